// HPACK header block decoding (RFC 7541) for one direction of one connection.
//
// The dynamic table is shared state: a decoder that missed or failed on a header block
// cannot know what the table holds, so it stops producing header fields ("untrusted")
// until the encoder empties the table with a dynamic table size update to 0.
import type { HeaderField } from '../message.js';
import { Http2ErrorCode } from './errors.js';
import { decodeHuffman, latin1 } from './huffman.js';
import { STATIC_TABLE } from './hpack-static-table.js';

/** RFC 7541 §4.1: each entry costs its name and value octets plus 32. */
export const HPACK_ENTRY_OVERHEAD = 32;
/** SETTINGS_HEADER_TABLE_SIZE before any SETTINGS frame (RFC 9113 §6.5.2). */
export const DEFAULT_HEADER_TABLE_SIZE = 4096;
/** Never keep a dynamic table larger than this, whatever the peer announced. */
export const HPACK_TABLE_SIZE_CEILING = 65536;
export const DEFAULT_MAX_HEADER_LIST_SIZE = 65536;
/** Integers above this are not lengths, indexes or sizes any real encoder sends. */
const MAX_INTEGER = 2 ** 31 - 1;

export interface HpackDecoderOptions {
  /** SETTINGS_HEADER_TABLE_SIZE in force when decoding starts: the table's initial maximum (default 4096). */
  headerTableSize?: number;
  /** Cap on the decoded header list (RFC 9113 size: name + value + 32 per field); default 64 KiB. */
  maxHeaderListSize?: number;
  /** Hard ceiling for the dynamic table whatever was announced; default 64 KiB. */
  tableSizeCeiling?: number;
  /** False when the decoder starts after the connection did: the table is unknown. Default true. */
  trusted?: boolean;
}

export interface HpackError {
  code: Http2ErrorCode;
  message: string;
  /** Byte position within the header block. */
  position: number;
}

export interface HpackResult {
  /**
   * Decoded fields in wire order; undefined when the block was bad. While the table is
   * untrusted (`partial`), only the fields that do not depend on it: static-table
   * references and literals. Fields naming a dynamic entry are left out, never guessed.
   */
  headers: HeaderField[] | undefined;
  /** The table was untrusted: `headers` may miss fields. */
  partial?: boolean;
  /** Fields past maxHeaderListSize were dropped; `headers` holds those before the cap. */
  truncated: boolean;
  /** Decoded header list size (RFC 9113 §6.5.2 accounting) of the fields kept. */
  listSize: number;
  error: HpackError | undefined;
}

class HpackFailure {
  constructor(
    readonly code: Http2ErrorCode,
    readonly message: string,
  ) {}
}

export class HpackDecoder {
  // Dynamic table as a ring: newest entry at #head - 1; index 62 is the newest.
  #names: string[] = new Array<string>(16);
  #values: string[] = new Array<string>(16);
  #head = 0;
  #count = 0;
  #size = 0;
  #maxSize = DEFAULT_HEADER_TABLE_SIZE;
  #allowedMaxSize: number;
  readonly #ceiling: number;
  readonly #maxHeaderListSize: number;
  #trusted: boolean;
  #pos = 0;
  #end = 0;

  constructor(options: HpackDecoderOptions = {}) {
    this.#ceiling = options.tableSizeCeiling ?? HPACK_TABLE_SIZE_CEILING;
    this.#allowedMaxSize = Math.min(options.headerTableSize ?? DEFAULT_HEADER_TABLE_SIZE, this.#ceiling);
    this.#maxSize = this.#allowedMaxSize;
    this.#maxHeaderListSize = options.maxHeaderListSize ?? DEFAULT_MAX_HEADER_LIST_SIZE;
    this.#trusted = options.trusted ?? true;
    if (!this.#trusted) this.#allowedMaxSize = this.#ceiling;
  }

  /** False after an error or a missed start: header fields are withheld until a size update to 0. */
  get trusted(): boolean {
    return this.#trusted;
  }

  /** Octets the dynamic table accounts for (entries + 32 each). */
  get dynamicTableSize(): number {
    return this.#size;
  }

  get dynamicTableLength(): number {
    return this.#count;
  }

  /** Current maximum set by the encoder's last size update. */
  get maxDynamicTableSize(): number {
    return this.#maxSize;
  }

  /**
   * The decoding side announced SETTINGS_HEADER_TABLE_SIZE. The limit for size updates only
   * grows: the two directions are not ordered against each other, so an update may arrive
   * before or after the acknowledgement is seen.
   */
  allowHeaderTableSize(size: number): void {
    this.#allowedMaxSize = Math.max(this.#allowedMaxSize, Math.min(size, this.#ceiling));
  }

  /** The table can no longer be trusted (a header block was missed). */
  markUntrusted(): void {
    this.#trusted = false;
    this.#clear();
    // The announced setting may have changed while we were not looking.
    this.#allowedMaxSize = this.#ceiling;
  }

  /** Entry at HPACK index (1-based over static then dynamic), for tests and diagnostics. */
  entry(index: number): HeaderField | undefined {
    if (index >= 1 && index <= STATIC_TABLE.length) return STATIC_TABLE[index - 1];
    const d = index - STATIC_TABLE.length - 1;
    if (d < 0 || d >= this.#count) return undefined;
    const slot = (this.#head - 1 - d) & (this.#names.length - 1);
    return [this.#names[slot]!, this.#values[slot]!];
  }

  /** Decodes one complete header block. Never throws. */
  decode(block: Uint8Array, start = 0, end = block.length): HpackResult {
    this.#pos = start;
    this.#end = end;
    try {
      if (!this.#trusted && !this.#regainTrust(block)) return { ...this.#decodeFields(block, start, true), partial: true };
      return this.#decodeFields(block, start, false);
    } catch (e) {
      if (!(e instanceof HpackFailure)) throw e;
      this.markUntrusted();
      return {
        headers: undefined,
        truncated: false,
        listSize: 0,
        error: { code: e.code, message: e.message, position: this.#pos - start },
      };
    }
  }

  /** Reads the leading size updates of a block; a size update to 0 empties the table and makes it known. */
  #regainTrust(block: Uint8Array): boolean {
    while (this.#pos < this.#end && (block[this.#pos]! & 0xe0) === 0x20) {
      const size = this.#readInteger(block, 5);
      this.#checkTableSize(size);
      if (size === 0) this.#trusted = true;
      if (this.#trusted) this.#setMaxSize(size);
    }
    return this.#trusted;
  }

  /** Decodes the fields of a block; `provableOnly` (untrusted table) skips those naming dynamic entries and inserts nothing. */
  #decodeFields(block: Uint8Array, start: number, provableOnly: boolean): HpackResult {
    const headers: HeaderField[] = [];
    const maxList = this.#maxHeaderListSize;
    let listSize = 0;
    let truncated = false;
    let error: HpackError | undefined;
    let fieldSeen = false;
    while (this.#pos < this.#end) {
      const first = block[this.#pos]!;
      const fieldStart = this.#pos;
      let name: string;
      let value: string;
      if (first & 0x80) {
        // Indexed header field (§6.1).
        const index = this.#readInteger(block, 7);
        fieldSeen = true;
        if (provableOnly && index > STATIC_TABLE.length) continue;
        const field = this.#lookup(index);
        name = field[0];
        value = field[1];
      } else if ((first & 0xc0) === 0x40) {
        // Literal with incremental indexing (§6.2.1).
        const index = this.#readInteger(block, 6);
        const literalName = this.#literalName(block, index, provableOnly);
        value = this.#readString(block);
        fieldSeen = true;
        if (literalName === undefined) continue;
        name = literalName;
        if (!provableOnly) this.#insert(name, value);
      } else if ((first & 0xe0) === 0x20) {
        // Dynamic table size update (§6.3): only before the first field.
        if (fieldSeen) {
          throw new HpackFailure(Http2ErrorCode.HPACK_TABLE_SIZE_UPDATE_MISPLACED, 'dynamic table size update after a header field');
        }
        const size = this.#readInteger(block, 5);
        this.#checkTableSize(size);
        this.#setMaxSize(size);
        continue;
      } else {
        // Literal without indexing (0000) or never indexed (0001) (§6.2.2, §6.2.3).
        const index = this.#readInteger(block, 4);
        if (truncated) {
          // Nothing of it will be kept and it does not touch the table: skip without decoding.
          if (index === 0) this.#skipString(block);
          this.#skipString(block);
          fieldSeen = true;
          continue;
        }
        const literalName = this.#literalName(block, index, provableOnly);
        value = this.#readString(block);
        fieldSeen = true;
        if (literalName === undefined) continue;
        name = literalName;
      }
      if (truncated) continue;
      const fieldSize = name.length + value.length + HPACK_ENTRY_OVERHEAD;
      if (listSize + fieldSize > maxList) {
        truncated = true;
        error = {
          code: Http2ErrorCode.HPACK_HEADER_LIST_TOO_LARGE,
          message: `decoded header list exceeds ${maxList} bytes`,
          position: fieldStart - start,
        };
        continue;
      }
      listSize += fieldSize;
      headers.push([name, value]);
    }
    return { headers, truncated, listSize, error };
  }

  /**
   * The name of a literal field: a string that follows (index 0) or a table entry's name.
   * Undefined when `provableOnly` and it names a dynamic entry, whose content is unknown.
   */
  #literalName(block: Uint8Array, index: number, provableOnly: boolean): string | undefined {
    if (index === 0) return this.#readString(block);
    if (provableOnly && index > STATIC_TABLE.length) return undefined;
    return this.#lookup(index)[0];
  }

  #checkTableSize(size: number): void {
    if (size > this.#allowedMaxSize) {
      throw new HpackFailure(
        Http2ErrorCode.HPACK_TABLE_SIZE_TOO_LARGE,
        `dynamic table size update to ${size} above the allowed ${this.#allowedMaxSize}`,
      );
    }
  }

  #readInteger(block: Uint8Array, prefixBits: number): number {
    const mask = (1 << prefixBits) - 1;
    let value = block[this.#pos++]! & mask;
    if (value < mask) return value;
    let shift = 0;
    for (;;) {
      if (this.#pos >= this.#end) throw new HpackFailure(Http2ErrorCode.HPACK_TRUNCATED, 'header block ends inside an integer');
      const b = block[this.#pos++]!;
      value += (b & 0x7f) * 2 ** shift;
      if (value > MAX_INTEGER || shift > 28) {
        throw new HpackFailure(Http2ErrorCode.HPACK_INTEGER_OVERFLOW, 'integer representation too large');
      }
      if ((b & 0x80) === 0) return value;
      shift += 7;
    }
  }

  #readString(block: Uint8Array): string {
    if (this.#pos >= this.#end) throw new HpackFailure(Http2ErrorCode.HPACK_TRUNCATED, 'header block ends before a string');
    const huffman = (block[this.#pos]! & 0x80) !== 0;
    const length = this.#readInteger(block, 7);
    const start = this.#pos;
    if (length > this.#end - start) throw new HpackFailure(Http2ErrorCode.HPACK_TRUNCATED, 'string runs past the header block');
    this.#pos = start + length;
    if (!huffman) return latin1(block, start, start + length);
    const s = decodeHuffman(block, start, start + length);
    if (s === undefined) throw new HpackFailure(Http2ErrorCode.HPACK_INVALID_HUFFMAN, 'invalid Huffman-coded string');
    return s;
  }

  #skipString(block: Uint8Array): void {
    if (this.#pos >= this.#end) throw new HpackFailure(Http2ErrorCode.HPACK_TRUNCATED, 'header block ends before a string');
    const length = this.#readInteger(block, 7);
    if (length > this.#end - this.#pos) throw new HpackFailure(Http2ErrorCode.HPACK_TRUNCATED, 'string runs past the header block');
    this.#pos += length;
  }

  #lookup(index: number): HeaderField {
    const field = index === 0 ? undefined : this.entry(index);
    if (!field) throw new HpackFailure(Http2ErrorCode.HPACK_INVALID_INDEX, `header index ${index} not in the table`);
    return field;
  }

  #insert(name: string, value: string): void {
    const size = name.length + value.length + HPACK_ENTRY_OVERHEAD;
    if (size > this.#maxSize) {
      // §4.4: an entry larger than the table empties it and is not added.
      this.#clear();
      return;
    }
    this.#evictTo(this.#maxSize - size);
    if (this.#count === this.#names.length) this.#grow();
    const mask = this.#names.length - 1;
    this.#names[this.#head] = name;
    this.#values[this.#head] = value;
    this.#head = (this.#head + 1) & mask;
    this.#count++;
    this.#size += size;
  }

  #setMaxSize(size: number): void {
    this.#maxSize = size;
    this.#evictTo(size);
  }

  #evictTo(limit: number): void {
    const mask = this.#names.length - 1;
    while (this.#size > limit && this.#count > 0) {
      const oldest = (this.#head - this.#count) & mask;
      this.#size -= this.#names[oldest]!.length + this.#values[oldest]!.length + HPACK_ENTRY_OVERHEAD;
      this.#names[oldest] = '';
      this.#values[oldest] = '';
      this.#count--;
    }
  }

  #grow(): void {
    // Capacity stays a power of two; at most ceiling / 32 entries can ever be live.
    const capacity = this.#names.length;
    const names = new Array<string>(capacity * 2);
    const values = new Array<string>(capacity * 2);
    for (let i = 0; i < this.#count; i++) {
      const from = (this.#head - this.#count + i) & (capacity - 1);
      names[i] = this.#names[from]!;
      values[i] = this.#values[from]!;
    }
    this.#names = names;
    this.#values = values;
    this.#head = this.#count;
  }

  #clear(): void {
    this.#names = new Array<string>(16);
    this.#values = new Array<string>(16);
    this.#head = 0;
    this.#count = 0;
    this.#size = 0;
  }
}
