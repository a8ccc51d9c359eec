// Caption tokenization for BLEU and CIDEr-D, approximating coco-caption's PTBTokenizer (Stanford CoreNLP's
// PTBTokenizer run with -lowerCase, then the tokens in its PUNCTUATIONS list dropped):
// lowercase; split the clitics PTB splits ("dog's" → dog 's, "don't" → do n't, 're 've 'll 'd 'm); every
// other character that is not a letter, digit, or a hyphen/apostrophe/period inside a word separates
// tokens, so punctuation disappears. Known differences from CoreNLP: symbols such as $ % & # are dropped
// here (PTB keeps them as tokens), and PTB's special cases ("cannot" → can not, "gonna") are not applied.

const CLITIC = /(\p{L})('s|'re|'ve|'ll|'d|'m)(?![\p{L}\p{N}])/gu;
const NEGATION = /(\p{L})(n't)(?![\p{L}\p{N}])/gu;
/** A word: letters/digits, possibly joined by single hyphens, apostrophes or periods ("black-and-white", "u.s"). */
const WORD = /'(?:s|re|ve|ll|d|m)(?![\p{L}\p{N}])|n't(?![\p{L}\p{N}])|[\p{L}\p{N}]+(?:[-'.][\p{L}\p{N}]+)*/gu;

export function captionTokens(text: string): string[] {
  const spaced = text.toLowerCase().replace(/[’‘]/g, "'").replace(NEGATION, '$1 $2').replace(CLITIC, '$1 $2');
  return spaced.match(WORD) ?? [];
}
