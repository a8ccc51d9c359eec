// The SentencePiece `.model` file: a ModelProto protobuf (google/sentencepiece
// src/sentencepiece_model.proto), encoded and decoded here by hand so the project needs no protobuf
// dependency. Only the fields this project reads or writes are modelled; unknown fields are skipped
// on decode. bpe-trainer.ts builds a model with it, tokenizer.ts reads one back for the vocab layout.

import { HyperlmError } from '../errors.js';

/** ModelProto.SentencePiece.Type. */
export const PieceType = { NORMAL: 1, UNKNOWN: 2, CONTROL: 3, USER_DEFINED: 4, UNUSED: 5, BYTE: 6 } as const;
export type PieceType = (typeof PieceType)[keyof typeof PieceType];

export interface SpmPiece {
  piece: string;
  score: number;
  type: PieceType;
}

/** The TrainerSpec fields we write; numbers are the proto field numbers. */
export interface TrainerSpec {
  modelType: number; // 3: 1 UNIGRAM, 2 BPE
  vocabSize: number; // 4
  characterCoverage: number; // 10
  maxSentencepieceLength: number; // 20
  splitByUnicodeScript: boolean; // 21
  splitByWhitespace: boolean; // 22
  byteFallback: boolean; // 35
  unkId: number; // 40
  bosId: number; // 41
  eosId: number; // 42
  padId: number; // 43
  unkPiece: string; // 45
  bosPiece: string; // 46
  eosPiece: string; // 47
  padPiece: string; // 48
}

export interface NormalizerSpec {
  name: string; // 1
  addDummyPrefix: boolean; // 3
  removeExtraWhitespaces: boolean; // 4
  escapeWhitespaces: boolean; // 5
}

export interface SpmModel {
  pieces: SpmPiece[];
  trainerSpec: TrainerSpec;
  normalizerSpec: NormalizerSpec;
}

/** Proto2 defaults, so a decoded model without a field reads as spm would read it. */
export const TRAINER_SPEC_DEFAULTS: TrainerSpec = {
  modelType: 1,
  vocabSize: 8000,
  characterCoverage: 0.9995,
  maxSentencepieceLength: 16,
  splitByUnicodeScript: true,
  splitByWhitespace: true,
  byteFallback: false,
  unkId: 0,
  bosId: 1,
  eosId: 2,
  padId: -1,
  unkPiece: '<unk>',
  bosPiece: '<s>',
  eosPiece: '</s>',
  padPiece: '<pad>',
};

const NORMALIZER_SPEC_DEFAULTS: NormalizerSpec = {
  name: '',
  addDummyPrefix: true,
  removeExtraWhitespaces: true,
  escapeWhitespaces: true,
};

class Writer {
  private buf = new Uint8Array(1 << 16);
  private pos = 0;

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.pos + n));
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
  }

  varint(v: number): void {
    // int32 fields with negative values are sign-extended to 10 bytes (proto rule).
    let x = BigInt.asUintN(64, BigInt(Math.trunc(v)));
    this.ensure(10);
    while (x >= 0x80n) {
      this.buf[this.pos++] = Number(x & 0x7fn) | 0x80;
      x >>= 7n;
    }
    this.buf[this.pos++] = Number(x);
  }

  key(field: number, wire: number): void {
    this.varint(field * 8 + wire);
  }
  int(field: number, v: number): void {
    this.key(field, 0);
    this.varint(v);
  }
  bool(field: number, v: boolean): void {
    this.int(field, v ? 1 : 0);
  }

  float(field: number, v: number): void {
    this.key(field, 5);
    this.ensure(4);
    new DataView(this.buf.buffer).setFloat32(this.pos, v, true);
    this.pos += 4;
  }

  bytes(field: number, b: Uint8Array): void {
    this.key(field, 2);
    this.varint(b.length);
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  string(field: number, s: string): void {
    this.bytes(field, new TextEncoder().encode(s));
  }
  finish(): Uint8Array {
    return this.buf.slice(0, this.pos);
  }
}

function encodePiece(p: SpmPiece): Uint8Array {
  const w = new Writer();
  w.string(1, p.piece);
  w.float(2, p.score);
  w.int(3, p.type);
  return w.finish();
}

function encodeTrainerSpec(t: TrainerSpec): Uint8Array {
  const w = new Writer();
  w.int(3, t.modelType);
  w.int(4, t.vocabSize);
  w.float(10, t.characterCoverage);
  w.int(20, t.maxSentencepieceLength);
  w.bool(21, t.splitByUnicodeScript);
  w.bool(22, t.splitByWhitespace);
  w.bool(35, t.byteFallback);
  w.int(40, t.unkId);
  w.int(41, t.bosId);
  w.int(42, t.eosId);
  w.int(43, t.padId);
  w.string(45, t.unkPiece);
  w.string(46, t.bosPiece);
  w.string(47, t.eosPiece);
  w.string(48, t.padPiece);
  return w.finish();
}

function encodeNormalizerSpec(n: NormalizerSpec): Uint8Array {
  const w = new Writer();
  w.string(1, n.name);
  w.bool(3, n.addDummyPrefix);
  w.bool(4, n.removeExtraWhitespaces);
  w.bool(5, n.escapeWhitespaces);
  return w.finish();
}

/**
 * Serialize a model to `.model` bytes. Wire format (protobuf): each field is a varint key
 * `(fieldNumber << 3) | wireType`, then
 *   wireType 0 varint | 1 fixed64 | 2 length-delimited (varint length + bytes) | 5 fixed32 (float).
 * ModelProto { repeated SentencePiece pieces = 1; TrainerSpec trainer_spec = 2;
 *              NormalizerSpec normalizer_spec = 3; }
 * SentencePiece { string piece = 1; float score = 2; Type type = 3; }
 */
export function encodeModel(model: SpmModel): Uint8Array {
  const w = new Writer();
  for (const p of model.pieces) w.bytes(1, encodePiece(p));
  w.bytes(2, encodeTrainerSpec(model.trainerSpec));
  w.bytes(3, encodeNormalizerSpec(model.normalizerSpec));
  return w.finish();
}

type FieldValue = number | Uint8Array;

/** Iterates the fields of one message: calls `onField(field, wire, value)`; value is a number or a byte view. */
function readFields(buf: Uint8Array, onField: (field: number, wire: number, value: FieldValue) => void): void {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let pos = 0;
  const bad = (what: string): never => {
    throw new HyperlmError('TOKENIZER_BAD_MODEL', `spm model protobuf: ${what} at byte ${pos}`);
  };
  const varint = (): number => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (pos >= buf.length) bad('truncated varint');
      const b = buf[pos++];
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) break;
      shift += 7n;
      if (shift > 63n) bad('varint too long');
    }
    return Number(BigInt.asIntN(64, result));
  };
  while (pos < buf.length) {
    const key = varint();
    const field = Math.floor(key / 8);
    const wire = key & 7;
    if (wire === 0) onField(field, wire, varint());
    else if (wire === 1) {
      if (pos + 8 > buf.length) bad('truncated fixed64');
      onField(field, wire, view.getFloat64(pos, true));
      pos += 8;
    } else if (wire === 2) {
      const len = varint();
      if (len < 0 || pos + len > buf.length) bad(`bad length ${len}`);
      onField(field, wire, buf.subarray(pos, pos + len));
      pos += len;
    } else if (wire === 5) {
      if (pos + 4 > buf.length) bad('truncated fixed32');
      onField(field, wire, view.getFloat32(pos, true));
      pos += 4;
    } else bad(`unsupported wire type ${wire}`);
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: false });
const str = (v: FieldValue): string => (typeof v === 'number' ? '' : utf8.decode(v));
const num = (v: FieldValue): number => (typeof v === 'number' ? v : 0);

/** Parse `.model` bytes. Throws TOKENIZER_BAD_MODEL on malformed protobuf or an empty piece list. */
export function decodeModel(bytes: Uint8Array): SpmModel {
  const pieces: SpmPiece[] = [];
  const trainerSpec: TrainerSpec = { ...TRAINER_SPEC_DEFAULTS };
  const normalizerSpec: NormalizerSpec = { ...NORMALIZER_SPEC_DEFAULTS };
  readFields(bytes, (field, _wire, v) => {
    if (typeof v === 'number') return;
    if (field === 1) {
      const p: SpmPiece = { piece: '', score: 0, type: PieceType.NORMAL };
      readFields(v, (f, _w, x) => {
        if (f === 1) p.piece = str(x);
        else if (f === 2) p.score = num(x);
        else if (f === 3) p.type = num(x) as PieceType;
      });
      pieces.push(p);
    } else if (field === 2) {
      readFields(v, (f, _w, x) => {
        const t = trainerSpec;
        switch (f) {
          case 3:
            t.modelType = num(x);
            break;
          case 4:
            t.vocabSize = num(x);
            break;
          case 10:
            t.characterCoverage = num(x);
            break;
          case 20:
            t.maxSentencepieceLength = num(x);
            break;
          case 21:
            t.splitByUnicodeScript = num(x) !== 0;
            break;
          case 22:
            t.splitByWhitespace = num(x) !== 0;
            break;
          case 35:
            t.byteFallback = num(x) !== 0;
            break;
          case 40:
            t.unkId = num(x);
            break;
          case 41:
            t.bosId = num(x);
            break;
          case 42:
            t.eosId = num(x);
            break;
          case 43:
            t.padId = num(x);
            break;
          case 45:
            t.unkPiece = str(x);
            break;
          case 46:
            t.bosPiece = str(x);
            break;
          case 47:
            t.eosPiece = str(x);
            break;
          case 48:
            t.padPiece = str(x);
            break;
          default:
            break;
        }
      });
    } else if (field === 3) {
      readFields(v, (f, _w, x) => {
        if (f === 1) normalizerSpec.name = str(x);
        else if (f === 3) normalizerSpec.addDummyPrefix = num(x) !== 0;
        else if (f === 4) normalizerSpec.removeExtraWhitespaces = num(x) !== 0;
        else if (f === 5) normalizerSpec.escapeWhitespaces = num(x) !== 0;
      });
    }
  });
  if (pieces.length === 0) throw new HyperlmError('TOKENIZER_BAD_MODEL', 'spm model has no pieces (not a ModelProto?)');
  return { pieces, trainerSpec, normalizerSpec };
}
