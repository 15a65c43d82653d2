// The TypeScript record layout is generated from bpf/flowscope.h; the checked-in
// file must be exactly what the generator prints, and the BPF object must agree.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import * as L from '../../agent/capture/record-layout.generated.js';
import { buildNative, ROOT } from './support.js';

describe('record layout', () => {
  beforeAll(() => buildNative(), 120_000);

  it('checked-in record-layout.generated.ts is what gen-layout prints from flowscope.h', () => {
    const fresh = execFileSync(join(ROOT, 'native', 'build', 'gen-layout'), { encoding: 'utf8' });
    const committed = readFileSync(join(ROOT, 'agent', 'capture', 'record-layout.generated.ts'), 'utf8');
    expect(committed).toBe(fresh);
  });

  it('sizes and field offsets in the compiled BPF object (its DWARF) match the generated layout', () => {
    const obj = join(ROOT, 'bpf', 'build', 'flowscope.bpf.o');
    const layoutOf = (name: string): { size: number; fields: Map<string, number> } => {
      const text = execFileSync('llvm-dwarfdump', [`--name=${name}`, '--show-children', obj], { encoding: 'utf8' });
      const size = /DW_AT_byte_size\s+\((0x[0-9a-f]+)\)/.exec(text);
      if (!size) throw new Error(`struct ${name} not in the object's debug info`);
      const fields = new Map<string, number>();
      for (const block of text.split('DW_TAG_member').slice(1)) {
        const field = /DW_AT_name\s+\("(\w+)"\)/.exec(block);
        const offset = /DW_AT_data_member_location\s+\((0x[0-9a-f]+)\)/.exec(block);
        if (field && offset) fields.set(field[1]!, Number(offset[1]));
      }
      return { size: Number(size[1]), fields };
    };
    const header = layoutOf('fs_record_header');
    const check = (name: string, generated: Readonly<Record<string, number>>, base: Map<string, number>): void => {
      const { size, fields } = layoutOf(name);
      expect(size, `${name} size`).toBe(generated.size);
      for (const [field, offset] of Object.entries(generated)) {
        if (field === 'size') continue;
        const actual = fields.get(field) ?? base.get(field);
        expect(actual, `${name}.${field}`).toBe(offset);
      }
    };
    check('fs_record_header', L.HEADER, new Map());
    check('fs_conn_open', L.CONN_OPEN, header.fields);
    check('fs_data', L.DATA, header.fields);
    check('fs_conn_close', L.CONN_CLOSE, header.fields);
  });

  it('names every loss slot', () => {
    expect(L.LOSS_CAUSES.length).toBe(L.FS_LOSS__COUNT);
    expect(L.LOSS_CAUSES[L.FS_LOSS_RINGBUF_FULL]).toBe('ringbuf_full');
    expect(L.LOSS_CAUSES[L.FS_LOSS_ARGS_MAP_FULL]).toBe('args_map_full');
  });
});
