/** @module Thai character classes (the Thai block U+0E00–U+0E7F), named as Thai grammar names them. */

export const CONSONANTS = "กขฃคฅฆงจฉชซฌญฎฏฐฑฒณดตถทธนบปผฝพฟภมยรลวศษสหฬอฮ";
/** Written before the consonant they follow in speech. */
export const LEAD_VOWELS = "เแโใไ";
/** Sara A, Sara Aa, Sara Am, Lakkhangyao. */
export const FOLLOW_VOWELS = "ะาำๅ";
/** Mai Han-akat, Sara I, Sara Ii, Sara Ue, Sara Uee, Maitaikhu. */
export const ABOVE_VOWELS = "ัิีึื็";
/** Sara U, Sara Uu. */
export const BELOW_VOWELS = "ุู";
/** Mai Ek, Mai Tho, Mai Tri, Mai Chattawa. */
export const TONE_MARKS = "่้๊๋";
/** Phinthu, Thanthakhat, Nikhahit, Yamakkan: signs that sit on a base character. */
export const SIGNS = "\u0e3a\u0e4c\u0e4d\u0e4e";
export const THAI_DIGITS = "๐๑๒๓๔๕๖๗๘๙";
export const VOWELS = `ฤฦ${LEAD_VOWELS}${FOLLOW_VOWELS}${ABOVE_VOWELS}${BELOW_VOWELS}\u0e4d`;

/** Characters that cannot stand alone: they attach to the base character before them. */
export const NON_BASE = `${ABOVE_VOWELS}${BELOW_VOWELS}${TONE_MARKS}${SIGNS}`;
