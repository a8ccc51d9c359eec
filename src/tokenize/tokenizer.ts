// The Tokenizer: text ⇄ ids through a SentencePiece BPE model, plus the unified layout of vocab.ts:
// control tokens, CM3 sentinels and the image code block that spm knows nothing about.
// Encoding runs through bpe-encoder.ts (spm's BPE in TypeScript, same ids, several times faster);
// sentencepiece-js (the spm C++ code compiled to WASM, ids equal to Debian's spm_encode) stays loaded
// as the reference (`encodeReference`), for decoding, and as the encoder when the JS one does not
// support the model or when `engine: 'reference'` / HYPERLM_TOKENIZER_ENGINE=reference asks for it.

import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HyperlmError } from '../errors.js';
import type { MinimizedDocument } from '../data/document.js';
import { BpeEncoder } from './bpe-encoder.js';
import { decodeModel, PieceType, type SpmPiece } from './spm-model.js';
import { layoutFromPieces, sanitizeText, type VocabLayout } from './vocab.js';

/** The subset of sentencepiece-js (untyped CommonJS) that we call. */
interface SpmProcessor {
  load(path: string): Promise<void>;
  encodeIds(text: string): number[];
  encodePieces(text: string): string[];
  decodeIds(ids: number[]): string;
}
const require = createRequire(import.meta.url);
/** Required on first use: an `encodeOnly` tokenizer (preprocess workers) never loads it. */
const spmClass = (): new () => SpmProcessor =>
  (require('sentencepiece-js') as { SentencePieceProcessor: new () => SpmProcessor }).SentencePieceProcessor;

/** Characters per spm call when encoding long text (see `encode`). */
const ENCODE_BLOCK = 8192;

export type TokenizerEngine = 'js' | 'reference';

export interface TokenizerOptions {
  /** Size of the image code block after the spm ids (the VQGAN codebook size). */
  imageCodes?: number;
  /**
   * Who runs `encode`: 'js' (bpe-encoder.ts, the default; falls back to the reference when it does not
   * support the model) or 'reference' (sentencepiece-js), to compare or to rule the JS encoder out.
   * Default: env HYPERLM_TOKENIZER_ENGINE, else 'js'.
   */
  engine?: TokenizerEngine;
  /**
   * Load only what `encode`/`encodeDocument` need: with the JS engine, sentencepiece-js is not loaded
   * (it costs every preprocess worker start-up time), and `decode`, `encodePieces` and `encodeReference` throw.
   * For a model already checked by a full load (preprocess loads it in the main thread first).
   */
  encodeOnly?: boolean;
}

function resolveEngine(opt: TokenizerEngine | undefined): TokenizerEngine {
  const v = opt ?? process.env.HYPERLM_TOKENIZER_ENGINE ?? 'js';
  if (v !== 'js' && v !== 'reference') {
    throw new HyperlmError(
      'CONFIG_BAD_VALUE',
      `tokenizer engine must be 'js' or 'reference' (options.engine / HYPERLM_TOKENIZER_ENGINE), got ${JSON.stringify(v)}`,
    );
  }
  return v;
}

/** The JS encoder for the model, or null when it does not support it (the reference encodes then). */
function jsEncoder(parsed: ReturnType<typeof decodeModel>, source: string): BpeEncoder | null {
  try {
    return BpeEncoder.fromModel(parsed, {}, source);
  } catch (err) {
    if (!(err instanceof HyperlmError && err.code === 'TOKENIZER_BAD_MODEL')) throw err;
    return null;
  }
}

/**
 * Text is passed through sanitizeText (lone surrogates → U+FFFD) before encoding: embind converts JS
 * strings to UTF-8 and a lone surrogate has no UTF-8 form (unsanitized, 'a\uD800b' came back as
 * 'a\u{10062}'). NUL passes through embind intact and is encoded as the byte piece <0x00>.
 */
export class Tokenizer {
  readonly layout: VocabLayout;
  /** The spm pieces; pieces[i] is id i. */
  readonly pieces: readonly SpmPiece[];
  private readonly modelBytes: Uint8Array;
  /** sentencepiece-js, or null for an `encodeOnly` tokenizer that encodes with the JS engine. */
  private readonly spmOrNull: SpmProcessor | null;
  /** True when no text piece contains a newline (except '\n' itself): encoding may split after newlines. */
  private readonly newlineSplits: boolean;
  /**
   * The JS encoder, null when `engine` is 'reference', or a function that builds it on first use: its
   * tables cost ~0.1 s, which a tokenizer that never encodes (preprocess's main thread) need not pay.
   */
  private jsState: BpeEncoder | null | (() => BpeEncoder | null);
  /** Which encoder `encode` uses (the JS one unless asked otherwise or the model is unsupported). */
  get engine(): TokenizerEngine {
    return this.js === null ? 'reference' : 'js';
  }

  private get js(): BpeEncoder | null {
    if (typeof this.jsState === 'function') this.jsState = this.jsState();
    return this.jsState;
  }

  private constructor(
    modelBytes: Uint8Array,
    pieces: SpmPiece[],
    layout: VocabLayout,
    spm: SpmProcessor | null,
    js: BpeEncoder | null | (() => BpeEncoder | null),
  ) {
    this.modelBytes = modelBytes;
    this.pieces = pieces;
    this.layout = layout;
    this.spmOrNull = spm;
    this.jsState = js;
    this.newlineSplits = pieces.every(
      (p) =>
        p.piece === '\n' ||
        !p.piece.includes('\n') ||
        p.type === PieceType.CONTROL ||
        p.type === PieceType.BYTE ||
        p.type === PieceType.UNKNOWN,
    );
  }

  static async load(modelPath: string, opts: TokenizerOptions = {}): Promise<Tokenizer> {
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(await readFile(modelPath));
    } catch (err) {
      throw new HyperlmError('INPUT_NOT_FOUND', `tokenizer model ${modelPath} cannot be read`, { cause: err });
    }
    return Tokenizer.fromBytes(bytes, opts, modelPath);
  }

  /** sentencepiece-js only loads from a path, so the bytes go through a temp file. */
  static async fromBytes(model: Uint8Array, opts: TokenizerOptions = {}, source = 'model bytes'): Promise<Tokenizer> {
    const engine = resolveEngine(opts.engine);
    const parsed = decodeModel(model);
    const layout = layoutFromPieces(parsed.pieces, opts.imageCodes ?? 8192, source);
    if (opts.encodeOnly === true && engine === 'js') {
      const js = jsEncoder(parsed, source);
      if (js !== null) return new Tokenizer(model, parsed.pieces, layout, null, js);
    }
    const dir = await mkdtemp(join(tmpdir(), 'hyperlm-spm-'));
    const spm = new (spmClass())();
    // sentencepiece-js's Emscripten runtime adds an uncaughtException and an unhandledRejection listener
    // (both rethrow, as Node does anyway) on every load: removed again, or each load leaks two listeners.
    const before = {
      uncaught: process.listeners('uncaughtException'),
      unhandled: process.listeners('unhandledRejection'),
    };
    try {
      const path = join(dir, 'tokenizer.model');
      await writeFile(path, model);
      await spm.load(path);
    } catch (err) {
      throw new HyperlmError('TOKENIZER_BAD_MODEL', `${source}: sentencepiece cannot load it`, { cause: err });
    } finally {
      for (const l of process.listeners('uncaughtException'))
        if (!before.uncaught.includes(l)) process.off('uncaughtException', l);
      for (const l of process.listeners('unhandledRejection'))
        if (!before.unhandled.includes(l)) process.off('unhandledRejection', l);
      await rm(dir, { recursive: true, force: true });
    }
    const js = engine === 'js' ? () => jsEncoder(parsed, source) : null;
    const tok = new Tokenizer(model, parsed.pieces, layout, spm, js);
    // spm's Load reports failure through a status we cannot read; a model that failed to load encodes nothing.
    if (tok.spm.encodeIds('a').length === 0) {
      throw new HyperlmError('TOKENIZER_BAD_MODEL', `${source}: sentencepiece rejected the model`);
    }
    return tok;
  }

  private get spm(): SpmProcessor {
    if (this.spmOrNull === null)
      throw new HyperlmError(
        'CONFIG_BAD_VALUE',
        'this tokenizer was loaded with encodeOnly: it can encode but not decode; load it without encodeOnly',
      );
    return this.spmOrNull;
  }

  /** Text → spm ids (no bos/eos), through `engine`. Lossless: decode(encode(t)) === t for well-formed t. */
  encode(text: string): number[] {
    const js = this.js;
    if (js === null) return this.encodeReference(text);
    return Array.from(js.encode(sanitizeText(text)));
  }

  /** As `encode`, as an Int32Array (no copy into a JS array). */
  encodeInt32(text: string): Int32Array {
    const js = this.js;
    if (js === null) return Int32Array.from(this.encodeReference(text));
    return js.encode(sanitizeText(text));
  }

  /**
   * Text → spm ids through sentencepiece-js, whatever `engine` says: the reference the JS encoder is
   * tested against. spm's encoder slows down on very long strings (one 1 MB call is several times
   * slower than the same text in 10 kB calls), so long text is encoded in blocks that end after a newline — which gives the same ids
   * when no piece contains '\n' except '\n' itself (checked at load, `newlineSplits`).
   */
  encodeReference(text: string): number[] {
    if (text.length === 0) return [];
    const clean = sanitizeText(text);
    if (clean.length <= ENCODE_BLOCK || !this.newlineSplits) return this.spm.encodeIds(clean);
    const out: number[] = [];
    for (let start = 0; start < clean.length;) {
      const nl = clean.indexOf('\n', start + ENCODE_BLOCK);
      const end = nl < 0 ? clean.length : nl + 1;
      for (const id of this.spm.encodeIds(clean.slice(start, end))) out.push(id);
      start = end;
    }
    return out;
  }

  /** Pieces as strings, for inspection. */
  encodePieces(text: string): string[] {
    return this.spm.encodePieces(sanitizeText(text));
  }

  /**
   * Ids → text. Text ids decode through spm; sentinels render as `<mask:i>` / `<eom>`; an image block
   * (imageBegin, codes…, imageEnd, or stray codes) renders as `[image:N codes]`; pad/bos/eos render as ''.
   */
  decode(ids: ArrayLike<number>): string {
    const L = this.layout;
    const out: string[] = [];
    let run: number[] = [];
    let codes = -1; // image codes seen in the current block, -1 outside a block
    const flushRun = (): void => {
      if (run.length > 0) out.push(this.spm.decodeIds(run));
      run = [];
    };
    const flushImage = (): void => {
      if (codes >= 0) out.push(`[image:${codes} codes]`);
      codes = -1;
    };
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (!Number.isInteger(id) || id < 0 || id >= L.size) {
        throw new HyperlmError('TOKENIZER_BAD_ID', `decode: id ${id} at position ${i} is outside [0, ${L.size})`);
      }
      if (id >= L.imageBase) {
        flushRun();
        codes = Math.max(codes, 0) + 1;
        continue;
      }
      if (id === L.imageBegin) {
        flushRun();
        flushImage();
        codes = 0;
        continue;
      }
      if (id === L.imageEnd) {
        flushRun();
        if (codes < 0) codes = 0;
        flushImage();
        continue;
      }
      flushImage();
      if (id === L.pad || id === L.bos || id === L.eos) {
        flushRun();
        continue;
      }
      if (id === L.eom || (id >= L.maskBase && id < L.maskBase + L.maskCount)) {
        flushRun();
        out.push(this.pieces[id].piece);
        continue;
      }
      run.push(id);
    }
    flushRun();
    flushImage();
    return out.join('');
  }

  /** The piece string of an id; image codes read `<img:CODE>`. */
  idToPiece(id: number): string {
    if (id >= this.layout.imageBase && id < this.layout.size) return `<img:${id - this.layout.imageBase}>`;
    const p = this.pieces[id];
    if (p === undefined)
      throw new HyperlmError('TOKENIZER_BAD_ID', `idToPiece: id ${id} is outside [0, ${this.layout.size})`);
    return p.piece;
  }

  /**
   * A minimized document → ids: text segments through spm, image slot k → imageBegin,
   * imageBase+code…, imageEnd (nothing when imageCodes[k] is null). No bos/eos.
   */
  encodeDocument(segments: MinimizedDocument['segments'], imageCodes: Array<Uint16Array | null>): Int32Array {
    const L = this.layout;
    const parts: ArrayLike<number>[] = [];
    let total = 0;
    for (const seg of segments) {
      if (typeof seg === 'string') {
        const ids = this.encodeInt32(seg);
        parts.push(ids);
        total += ids.length;
        continue;
      }
      const codes = imageCodes[seg.image];
      if (codes === undefined) {
        throw new HyperlmError(
          'INPUT_BAD_RECORD',
          `encodeDocument: segment refers to image ${seg.image} but only ${imageCodes.length} code arrays were given`,
        );
      }
      if (codes === null) continue;
      const block = new Int32Array(codes.length + 2);
      block[0] = L.imageBegin;
      for (let i = 0; i < codes.length; i++) {
        if (codes[i] >= L.imageCount) {
          throw new HyperlmError(
            'INPUT_BAD_RECORD',
            `encodeDocument: image ${seg.image} code ${codes[i]} >= imageCodes ${L.imageCount}`,
          );
        }
        block[i + 1] = L.imageBase + codes[i];
      }
      block[codes.length + 1] = L.imageEnd;
      parts.push(block);
      total += block.length;
    }
    const out = new Int32Array(total);
    let pos = 0;
    for (const p of parts) {
      out.set(p, pos);
      pos += p.length;
    }
    return out;
  }

  /** sha256 (hex) of the model bytes: identifies the vocabulary in manifests. */
  hash(): string {
    return createHash('sha256').update(this.modelBytes).digest('hex');
  }

  /** The `.model` bytes. */
  modelData(): Uint8Array {
    return this.modelBytes;
  }
}
