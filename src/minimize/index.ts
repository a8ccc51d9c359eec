// The minimize stage: HTML → HTLM/CM3 minimal HTML (boilerplate rules, charset sniffing, canonical
// serialization) and source files → code documents. Other folders import from here.
export { decodeHtmlBytes, decodeCodeBytes } from './charset.js';
export { minimizeHtml, largestSrcsetCandidate } from './minimize.js';
export { DEFAULT_MINIMIZE, resolveMinimizeOptions, type MinimizeOptions } from './minimize-config.js';
export { codeDocumentText, parseCodeDocument, languageForPath, LANGUAGE_BY_EXTENSION } from './code-document.js';
