// File and terminal I/O shared by every stage: atomic writes and progress reporting.
export { writeFileAtomic, writeJsonAtomic, syncDir, tempPathFor } from './atomic-file.js';
export { Progress, formatSeconds, formatCount, type ProgressOptions } from './progress.js';
