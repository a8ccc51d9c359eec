// Input readers: folders, WARC/WARC.gz crawls and JSONL, in a deterministic order; image resolution
// confined to the input root.
export { readSources, type SourceOptions } from './sources.js';
export { newSourceStats, type SourceStats, type SourceError } from './source-stats.js';
export { fileKindForPath, walkFolder, listTextFiles, type FileKind, type WalkEntry } from './walk.js';
export { resolveImageSource, decodeDataUri, type ImageDropReason } from './image-resolve.js';
export { readWarc, readWarcImages, defaultWarcOptions, type WarcOptions, type WarcPage, type WarcImage } from './warc.js';
export { readJsonl, type JsonlPage } from './jsonl.js';
export { documentIdentity, shardIdentity, type DocKind, type RawDocument, type MinimizedDocument, type ImageRef } from './document.js';
export { DEFAULT_CORPUS_BUILD, buildCorpus, formatPinnedList, pinsWithLicenses, readPinnedList, staleFolders, type BuildEvent, type CorpusBuildConfig, type PinnedList } from './corpus-build.js';
