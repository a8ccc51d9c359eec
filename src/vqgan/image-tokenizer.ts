// The contract between the preprocessing pipeline and an image tokenizer (CM3's VQGAN, Esser et al.
// 2021; CM3 uses 256×256 images → 256 codes from an 8192-entry codebook). The pipeline only sees
// this interface, so a VQGAN trained here, an imported checkpoint or a test stub are interchangeable.
// Images travel as size×size×3 row-major 8-bit RGB, exactly what images.ts `loadImage` returns.

export interface ImageTokenizer {
  /** Side of the square RGB input and output images, in pixels. */
  readonly resolution: number;
  /** Codes per image (the latent grid, e.g. 16×16 = 256). */
  readonly codesPerImage: number;
  /** Number of codebook entries; every code is < codebookSize (fits Uint16 up to 65536). */
  readonly codebookSize: number;
  /** [resolution*resolution*3] RGB per image → [codesPerImage] codes per image, batch order kept. */
  encode(rgb: Uint8Array[]): Promise<Uint16Array[]>;
  /** [codesPerImage] codes per image → [resolution*resolution*3] RGB per image. */
  decode(codes: Uint16Array[]): Promise<Uint8Array[]>;
}
