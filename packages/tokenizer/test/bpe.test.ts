/** The BPE encoder on a tiny hand-written vocabulary: merge order, added tokens, and the files it refuses. */
import { describe, expect, it } from "vitest";
import { ByteLevelBpe, type TokenizerJson, translatePattern, UnsupportedTokenizerError } from "../src/bpe";

/** GPT-2's byte-to-character table, written independently of the one under test. */
const byteChars = (() => {
  const printable = [...Array(256).keys()].filter(
    (b) => (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174,
  );
  const chars: string[] = [];
  let extra = 0;
  for (let b = 0; b < 256; b++) chars.push(String.fromCharCode(printable.includes(b) ? b : 256 + extra++));
  return chars;
})();

function tinyTokenizer(change: (json: TokenizerJson) => void = () => {}): TokenizerJson {
  const vocab: Record<string, number> = {};
  byteChars.forEach((c, b) => {
    vocab[c] = b;
  });
  for (const token of ["ab", "bc", "abc", "aa"]) vocab[token] = Object.keys(vocab).length;
  const json: TokenizerJson = {
    added_tokens: [
      { id: 300, content: "<x>" },
      { id: 301, content: "<xy>" },
    ],
    normalizer: { type: "NFC" },
    decoder: { type: "ByteLevel" },
    pre_tokenizer: {
      type: "Sequence",
      pretokenizers: [
        {
          type: "Split",
          pattern: {
            Regex:
              "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
          },
          behavior: "Isolated",
          invert: false,
        },
        { type: "ByteLevel", add_prefix_space: false, use_regex: false },
      ],
    },
    model: {
      type: "BPE",
      vocab,
      merges: [
        ["a", "b"],
        ["b", "c"],
        ["ab", "c"],
        ["a", "a"],
      ],
    },
  };
  change(json);
  return json;
}

describe("ByteLevelBpe", () => {
  const bpe = new ByteLevelBpe(tinyTokenizer());
  const id = (token: string) => tinyTokenizer().model.vocab[token];

  it("merges the lowest-ranked pair first, then the pairs it forms", () => {
    expect(bpe.encode("abc")).toEqual([id("abc")]);
    expect(bpe.encode("bcab")).toEqual([id("bc"), id("ab")]);
  });

  it("merges equal-ranked pairs from the left", () => {
    expect(bpe.encode("aaa")).toEqual([id("aa"), id("a")]);
    expect(bpe.encode("aaaa")).toEqual([id("aa"), id("aa")]);
  });

  it("splits added tokens out of the text, longest match first", () => {
    expect(bpe.encode("a<xy>b<x><x")).toEqual([id("a"), 301, id("b"), 300, id("<"), id("x")]);
  });

  it("encodes the UTF-8 bytes of non-ASCII text and decodes them back", () => {
    const ids = bpe.encode("ก");
    expect(ids).toEqual([0xe0, 0xb8, 0x81].map((b) => id(byteChars[b] as string)));
    expect(bpe.decode(ids)).toBe("ก");
    expect(ids.map((i) => bpe.byteLength(i))).toEqual([1, 1, 1]);
  });

  it("refuses a tokenizer.json it does not implement, naming the field", () => {
    const refusal = (change: (json: TokenizerJson) => void) => {
      try {
        new ByteLevelBpe(tinyTokenizer(change));
      } catch (error) {
        expect(error).toBeInstanceOf(UnsupportedTokenizerError);
        return (error as Error).message;
      }
      throw new Error("accepted");
    };
    expect(
      refusal((j) => {
        j.normalizer = { type: "NFKC" };
      }),
    ).toMatch(/normalizer NFKC is not supported \(only none or NFC\)/);
    expect(
      refusal((j) => {
        j.model.type = "Unigram";
      }),
    ).toMatch(/model.type Unigram is not supported/);
    expect(
      refusal((j) => {
        j.pre_tokenizer = { type: "Metaspace" };
      }),
    ).toMatch(/pre-tokenizer Metaspace is not supported.*needs a ByteLevel pre-tokenizer/);
    expect(
      refusal((j) => {
        j.model.byte_fallback = true;
        j.decoder = { type: "Sequence", decoders: [{ type: "ByteFallback" }, { type: "Fuse" }] };
      }),
    ).toMatch(/model.byte_fallback is not supported; decoder ByteFallback \+ Fuse is not supported/);
    expect(
      refusal((j) => {
        const split = (j.pre_tokenizer as { pretokenizers: { pattern?: { Regex?: string } }[] })
          .pretokenizers[0];
        if (split) split.pattern = { Regex: "\\p{L}++|." };
      }),
    ).toMatch(/pretokenizers\[0\]: .* uses a possessive quantifier/);
    expect(
      refusal((j) => {
        j.added_tokens.push({ id: 302, content: "<s>", single_word: true });
      }),
    ).toMatch(/added token "<s>": single_word is not supported/);
    const missingByte = tinyTokenizer((j) => {
      delete j.model.vocab[byteChars[0] as string];
    });
    expect(() => new ByteLevelBpe(missingByte)).toThrow(/no token for byte 0x0/);
  });

  it("takes the white space beside an lstrip or rstrip added token into it", () => {
    const stripping = new ByteLevelBpe(
      tinyTokenizer((j) => {
        j.added_tokens.push({ id: 302, content: "[M]", lstrip: true, rstrip: true });
      }),
    );
    expect(stripping.encode("a \t [M]  b")).toEqual([id("a"), 302, id("b")]);
    expect(stripping.encode("a[M]b")).toEqual([id("a"), 302, id("b")]);
  });

  it("matches normalized added tokens after the others, in the normalized text", () => {
    const both = new ByteLevelBpe(
      tinyTokenizer((j) => {
        j.added_tokens.push({ id: 302, content: "b<x", normalized: true });
        // "é" written as e + U+0301 is only found once NFC has composed it.
        j.added_tokens.push({ id: 303, content: "\u00e9", normalized: true });
      }),
    );
    // The raw token <x> is cut out first, so the normalized b<x cannot take its "<x".
    expect(both.encode("ab<x>")).toEqual([id("ab"), 300]);
    expect(both.encode("ab<xb")).toEqual([id("a"), 302, id("b")]);
    expect(both.encode("e\u0301")).toEqual([303]);
  });

  it("without a normalizer, leaves the text as written", () => {
    const raw = new ByteLevelBpe(
      tinyTokenizer((j) => {
        j.normalizer = null;
      }),
    );
    expect(raw.decode(raw.encode("e\u0301"))).toBe("e\u0301");
    expect(bpe.decode(bpe.encode("e\u0301"))).toBe("\u00e9");
  });

  it("with ignore_merges, takes a pre-token that is in the vocabulary whole", () => {
    // "aab" merges a+a first (rank 3 is lower than nothing else applies) unless the whole word is a token.
    const withWord = (ignore: boolean) =>
      new ByteLevelBpe(
        tinyTokenizer((j) => {
          j.model.vocab.aab = 260;
          j.model.merges = [...(j.model.merges as [string, string][]), ["aa", "b"]];
          j.model.merges.unshift(["a", "b"]);
          j.model.ignore_merges = ignore;
        }),
      );
    // Merges alone: a+b first (rank 0) gives a ab, which does not merge further.
    expect(withWord(false).encode("aab")).toEqual([id("a"), id("ab")]);
    expect(withWord(true).encode("aab")).toEqual([260]);
  });

  it("with a Removed inverted split keeps the matches and drops the text between them", () => {
    const kept = new ByteLevelBpe(
      tinyTokenizer((j) => {
        j.pre_tokenizer = {
          type: "Sequence",
          pretokenizers: [
            { type: "Split", pattern: { Regex: "\\p{L}+" }, behavior: "Removed", invert: true },
            { type: "ByteLevel", add_prefix_space: false, use_regex: false },
          ],
        };
      }),
    );
    expect(kept.encode("ab, c")).toEqual([id("ab"), id("c")]);
  });

  it("applies several splits in turn and the GPT-2 pattern of a ByteLevel with use_regex", () => {
    const twoSplits = new ByteLevelBpe(
      tinyTokenizer((j) => {
        j.pre_tokenizer = {
          type: "Sequence",
          pretokenizers: [
            { type: "Split", pattern: { Regex: "\\s+" }, behavior: "Isolated", invert: false },
            { type: "Split", pattern: { Regex: "b" }, behavior: "Isolated", invert: false },
            { type: "ByteLevel", add_prefix_space: false, use_regex: false },
          ],
        };
      }),
    );
    // "abc" is cut into a | b | c before BPE, so neither ab nor bc can form.
    expect(twoSplits.encode("abc")).toEqual([id("a"), id("b"), id("c")]);
    const gpt2 = new ByteLevelBpe(
      tinyTokenizer((j) => {
        j.pre_tokenizer = { type: "ByteLevel", add_prefix_space: false, use_regex: true };
      }),
    );
    // GPT-2 keeps digits apart from letters: "ab1c" is ab | 1 | c.
    expect(gpt2.encode("ab1bc")).toEqual([id("ab"), id("1"), id("bc")]);
  });

  it("decodes without the special added tokens when asked", () => {
    const special = new ByteLevelBpe(
      tinyTokenizer((j) => {
        (j.added_tokens[0] as { special?: boolean }).special = true;
      }),
    );
    const ids = special.encode("a<x><xy>b");
    expect(special.decode(ids)).toBe("a<x><xy>b");
    expect(special.decode(ids, { skipSpecial: true })).toBe("a<xy>b");
    expect([...special.specialIds]).toEqual([300]);
  });
});

describe("translatePattern", () => {
  const pieces = (pattern: string, text: string) => text.match(translatePattern(pattern));

  it("matches (?i:…) groups without case", () => {
    expect(pieces("(?i:'s|'ll)|\\p{L}+", "it'S we'LL")).toEqual(["it", "'S", "we", "'LL"]);
  });

  it("takes \\s as Unicode White_Space, as Oniguruma does: U+0085 is space, U+FEFF is not", () => {
    expect(pieces("\\s+|\\S+", "a\u0085b\ufeffc")).toEqual(["a", "\u0085", "b\ufeffc"]);
    expect(pieces("[^\\s]+", "a\u0085b")).toEqual(["a", "b"]);
  });
});
