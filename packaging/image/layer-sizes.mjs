#!/usr/bin/env node
// Prints the built image's uncompressed size per layer, split into the base image and the
// layers packaging/Dockerfile adds on top of it (the runtime layer the size target is about).
//   node layer-sizes.mjs SIZES_JSON ROOTFS_BYTES PUBLISHED_BASE_BYTES
// SIZES_JSON holds `podman history --format json` and `podman image inspect` RootFS.Layers of
// the base and of the image, as build.sh collects them.
import { readFileSync } from 'node:fs';

const TARGET_BYTES = 250e6;
const MB = 1e6;
const [sizesPath, rootfsArg, publishedBaseArg] = process.argv.slice(2);
if (!sizesPath || !rootfsArg || !publishedBaseArg) {
  console.error('usage: layer-sizes.mjs SIZES_JSON ROOTFS_BYTES PUBLISHED_BASE_BYTES');
  process.exit(2);
}
/** @type {{ base: HistoryEntry[], image: HistoryEntry[], baseLayers: string[], imageLayers: string[] }} */
const sizes = JSON.parse(readFileSync(sizesPath, 'utf8'));
/** @typedef {{ CreatedBy?: string, size: number }} HistoryEntry */

// The image must really sit on the base: its first layers are the base's layers.
const onBase = sizes.baseLayers.every((digest, i) => sizes.imageLayers[i] === digest);
if (!onBase) {
  console.error('layer-sizes: the image does not start with the base image layers');
  process.exit(1);
}

// History is newest first; the oldest entries are the base's own.
const oldestFirst = [...sizes.image].reverse();
const baseEntries = oldestFirst.slice(0, sizes.base.length);
const addedEntries = oldestFirst.slice(sizes.base.length);
const sum = (/** @type {HistoryEntry[]} */ entries) => entries.reduce((total, e) => total + e.size, 0);
const mb = (/** @type {number} */ bytes) => (bytes / MB).toFixed(1).padStart(7);
const describe = (/** @type {HistoryEntry} */ e) =>
  (e.CreatedBy ?? '').replace(/^\/bin\/sh -c (#\(nop\) )?/, '').replace(/\s+/g, ' ').slice(0, 110);

const baseBytes = sum(baseEntries);
const addedBytes = sum(addedEntries);
console.log(`${mb(baseBytes)} MB  base layer(s): debian:bookworm-slim stand-in (published image: ${(Number(publishedBaseArg) / MB).toFixed(1)} MB)`);
for (const entry of addedEntries) {
  if (entry.size > 0) console.log(`${mb(entry.size)} MB    + ${describe(entry)}`);
}
console.log(`${mb(addedBytes)} MB  runtime layers above the base (target <= ${TARGET_BYTES / MB} MB): ${addedBytes <= TARGET_BYTES ? 'met' : 'MISSED'}`);
console.log(`${mb(baseBytes + addedBytes)} MB  image, all layers`);
console.log(`${mb(Number(rootfsArg))} MB  image root filesystem (du of the mounted image)`);
console.log(JSON.stringify({ baseBytes, runtimeLayersBytes: addedBytes, imageBytes: baseBytes + addedBytes, rootfsBytes: Number(rootfsArg), targetBytes: TARGET_BYTES }));
if (addedBytes > TARGET_BYTES) process.exitCode = 1;
