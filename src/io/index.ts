// File and terminal I/O shared by every stage: atomic writes, I/O failures as named errors, progress reporting, load-once caches.
export { writeFileAtomic, writeJsonAtomic, syncDir, tempPathFor } from './atomic-file.js';
export { Progress, formatSeconds, formatCount, type ProgressOptions } from './progress.js';
export { asIoFailure, isIoFailure, withPath } from './io-failure.js';
export { LoadOnce } from './load-once.js';
