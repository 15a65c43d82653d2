// Addresses from kernel records: 16 bytes, IPv4 in the first 4. IPv4-mapped IPv6
// addresses (dual-stack sockets) are printed as IPv4 so both ends of a connection
// name the same address.

export function formatIp(bytes: Uint8Array, offset: number, family: 4 | 6): string {
  if (family === 4) return `${bytes[offset]}.${bytes[offset + 1]}.${bytes[offset + 2]}.${bytes[offset + 3]}`;
  let mapped = true;
  for (let i = 0; i < 10; i++) if (bytes[offset + i] !== 0) mapped = false;
  if (mapped && bytes[offset + 10] === 0xff && bytes[offset + 11] === 0xff) {
    return formatIp(bytes, offset + 12, 4);
  }
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[offset + i]! << 8) | bytes[offset + i + 1]!);
  // RFC 5952: compress the longest run (≥ 2) of zero groups.
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) { bestStart = i; bestLen = j - i; }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}
