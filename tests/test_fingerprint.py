"""Tests for archiver.stages.shingle and .fingerprint: normalisation, shingle hash, MinHash, band keys."""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import random
import re
import subprocess
import sys
import unicodedata
from pathlib import Path

import numpy as np
import opencc
import pytest
from datasketch import MinHash
from hypothesis import given, settings
from hypothesis import strategies as st

from archiver.config import FingerprintConfig
from archiver.records import Passage
from archiver.stages import fingerprint as fp
from archiver.stages import shingle as sh

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason="../shared (corpus) not present")
CFG = FingerprintConfig()
OPENCC_DICT = Path(opencc.__file__).parent / "clib" / "bin" / "opencc_dict"
OPENCC_SHARE = Path(opencc.__file__).parent / "clib" / "share" / "opencc"
# Chinese-heavy alphabet: Simplified/Traditional, the phrase-only triggers, full-width forms, Latin.
ZH = list("现在我代表國務院向大會報告政府工作深沈么覆答坏藉乾隆，。、；：“”（）《》　 ＡＢ１２ab_-Ⅻ①\u0301")
zh_text = st.text(alphabet=st.sampled_from(ZH), max_size=120)
any_text = st.text(max_size=120)


def para(i: int, text: str, kind: str = "para") -> Passage:
    return Passage(index=i, kind=kind, start=0, end=len(text), text=text, section=0)  # type: ignore[arg-type]


def datasketch_sig(normalised: str, config: FingerprintConfig = CFG) -> bytes:
    m = MinHash(num_perm=config.num_perm, seed=config.seed, hashfunc=sh.shingle_hash)
    m.update_batch(sh.shingles(normalised, config))
    return bytes(m.hashvalues.astype("<u4").tobytes())


def reference_normalise(text: str) -> str:
    """The definition, with t2s always applied (no precheck)."""
    converted = opencc.OpenCC("t2s").convert(unicodedata.normalize("NFKC", text))
    return re.sub(r"[\W_]+", "", converted.casefold())


@pytest.fixture(scope="module")
def real_paragraphs() -> list[str]:
    if not SHARED.is_dir():
        pytest.skip("../shared (corpus) not present")
    paras: list[str] = []
    for path in sorted((SHARED / "corpus" / "reports").glob("*.txt")):
        paras += [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    rng = random.Random(11)
    return rng.sample(paras, 400)


@pytest.fixture(scope="module")
def long_normalised() -> list[str]:
    """Distinct normalised real paragraphs of at least 40 characters (a seeded sample of 300)."""
    if not SHARED.is_dir():
        pytest.skip("../shared (corpus) not present")
    found: set[str] = set()
    for path in sorted((SHARED / "corpus" / "reports").glob("*.txt")):
        found |= {sh.normalise(line) for line in path.read_text(encoding="utf-8").splitlines()}
    return random.Random(7).sample(sorted(t for t in found if len(t) >= 40), 300)


def edit(text: str, share: float, rng: random.Random) -> str:
    """``text`` with ``share`` of its characters replaced by random CJK ideographs."""
    chars = list(text)
    for i in rng.sample(range(len(chars)), max(1, round(share * len(chars)))):
        chars[i] = chr(rng.randrange(0x4E00, 0x9FA6))
    return "".join(chars)


# --- normalisation ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("現在，我代表國務院向大會報告。", "现在我代表国务院向大会报告"),
        ("ＡＢＣ　１２３，Hello_World！", "abc123helloworld"),
        ("第１条：２０２４年", "第1条2024年"),
        ("深沈的夜", "深沉的夜"),  # changed only by a TSPhrases entry (沈 alone stays)
        ("答覆", "答复"),
        ("覆盖", "覆盖"),
        ("什么", "什么"),
        ("乾隆皇帝", "乾隆皇帝"),  # phrase entry keeps 乾
        ("Straße ①②", "strasse12"),
        ("，。 \t\n——", ""),
    ],
)
def test_normalise_examples(text: str, expected: str) -> None:
    assert sh.normalise(text) == expected
    assert fp.normalise(text) == expected


@given(st.one_of(zh_text, any_text))
@settings(max_examples=300, deadline=None)
def test_normalise_equals_definition(text: str) -> None:
    assert sh.normalise(text) == reference_normalise(text)


@needs_shared
def test_normalise_equals_benchlib_on_real_paragraphs(real_paragraphs: list[str]) -> None:
    sys.path.insert(0, str(SHARED / "bench"))
    import benchlib  # type: ignore[import-not-found]

    s2t = opencc.OpenCC("s2t")
    texts = real_paragraphs + [s2t.convert(p) for p in real_paragraphs[:100]]  # Traditional too
    mismatches = [t for t in texts if sh.normalise(t) != benchlib.norm_fp(t)]
    assert not mismatches


@pytest.mark.skipif(not OPENCC_DICT.is_file(), reason="opencc_dict binary not shipped with opencc")
def test_t2s_triggers_cover_the_dictionaries(tmp_path: Path) -> None:
    """Any key t2s can change contains a trigger, so skipping t2s without one is exact."""
    triggers = sh.t2s_triggers()
    for name in ("TSPhrases", "TSCharacters", "TSCharactersExt", "CJK_Compatibility_Ideographs"):
        out = tmp_path / f"{name}.txt"
        cmd = [str(OPENCC_DICT), "-i", str(OPENCC_SHARE / f"{name}.ocd2"), "-f", "ocd2", "-o", str(out)]
        subprocess.run([*cmd, "-t", "text"], check=True, capture_output=True)
        entries = [line.split("\t") for line in out.read_text(encoding="utf-8").splitlines()]
        assert len(entries) > 400
        for key, values in entries:
            if values.split(" ")[0] != key:
                assert not triggers.isdisjoint(key), (name, key)


# --- shingles and their hash --------------------------------------------------------------------


def fnv1a64(data: bytes) -> int:
    h = 0xCBF29CE484222325
    for byte in data:
        h = ((h ^ byte) * 0x100000001B3) % 2**64
    return h


def splitmix64_finaliser(z: int) -> int:
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) % 2**64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) % 2**64
    return z ^ (z >> 31)


def test_hash_building_blocks_match_published_vectors() -> None:
    assert fnv1a64(b"a") == 0xAF63DC4C8601EC8C
    assert fnv1a64(b"foobar") == 0x85944171F73967E8
    assert splitmix64_finaliser(0x9E3779B97F4A7C15) == 0xE220A8397B1DCDAF  # splitmix64(seed 0)
    for word in ("a", "foobar", "abc", "x1"):  # ASCII: code points are the bytes
        assert sh.shingle_hash(word) == splitmix64_finaliser(fnv1a64(word.encode())) >> 32
        assert sh.shingle_hash(word.encode()) == sh.shingle_hash(word)


def test_shingles_of_short_and_empty_text() -> None:
    assert sh.shingles("政府工作", CFG) == ["政府工", "府工作"]
    assert sh.shingles("政府", CFG) == ["政府"]
    assert sh.shingles("", CFG) == []
    assert sh.shingle_set("", CFG).size == 0


@given(
    st.lists(st.one_of(zh_text, any_text).map(sh.normalise), max_size=12),
    st.integers(1, 5),
    st.sampled_from([1, 7, 1 << 20]),
)
@settings(max_examples=200, deadline=None)
def test_bulk_shingle_sets_equal_one_set_per_text(texts: list[str], n: int, group_chars: int) -> None:
    config = FingerprintConfig(shingle_size=n)
    bulk = sh.shingle_sets(texts, config, group_chars)  # small groups: several bulk passes
    assert len(bulk) == len(texts)
    for text, got in zip(texts, bulk, strict=True):
        want = sh.shingle_set(text, config)
        assert got.dtype == want.dtype and np.array_equal(got, want)


@given(st.lists(st.one_of(zh_text, any_text).map(sh.normalise), max_size=8), st.integers(1, 5))
@settings(max_examples=200, deadline=None)
def test_bulk_hash_equals_scalar(texts: list[str], n: int) -> None:
    config = FingerprintConfig(shingle_size=n)
    hashes, owner = sh.char_hashes_bulk(texts, n)
    expected = [(sh.shingle_hash(s), i) for i, t in enumerate(texts) for s in sh.shingles(t, config)]
    assert sorted(zip(hashes.tolist(), owner.tolist(), strict=True)) == sorted(expected)
    flat = [s for t in texts for s in sh.shingles(t, config)]
    assert sh.hash_strings_bulk(flat).tolist() == [sh.shingle_hash(s) for s in flat]


def test_jieba_shingles() -> None:
    words = sh.shingles("我们坚持稳中求进工作总基调", FingerprintConfig(tokenizer="jieba", shingle_size=1))
    assert "".join(words) == "我们坚持稳中求进工作总基调" and len(words) > 3
    pairs = sh.shingles("我们坚持稳中求进工作总基调", FingerprintConfig(tokenizer="jieba", shingle_size=2))
    assert pairs == [f"{a} {b}" for a, b in itertools.pairwise(words)]
    assert sh.shingles("我们", FingerprintConfig(tokenizer="jieba", shingle_size=3)) == ["我们"]


# --- MinHash equals datasketch ---------------------------------------------------------------------


def test_permutations_equal_datasketch() -> None:
    for num_perm, seed in ((128, 1), (64, 7)):
        a, b = fp.permutations(num_perm, seed)
        m = MinHash(num_perm=num_perm, seed=seed)
        assert m.scheme == "affine32"
        assert np.array_equal(a, m.permutations[0]) and np.array_equal(b, m.permutations[1])


@needs_shared
def test_signatures_equal_datasketch_on_real_passages(real_paragraphs: list[str]) -> None:
    texts = [sh.normalise(p) for p in real_paragraphs]
    assert fp.signatures(texts, CFG) == [datasketch_sig(t) for t in texts]
    jieba = FingerprintConfig(tokenizer="jieba", shingle_size=2)
    assert fp.signatures(texts[:40], jieba) == [datasketch_sig(t, jieba) for t in texts[:40]]


@given(st.lists(st.one_of(zh_text, any_text).map(sh.normalise), max_size=6))
@settings(max_examples=100, deadline=None)
def test_signatures_equal_datasketch_on_random_text(texts: list[str]) -> None:
    assert fp.signatures(texts, CFG) == [datasketch_sig(t) for t in texts]


def test_chunking_does_not_change_signatures(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(3)
    lengths = [rng.randrange(0, 300) for _ in range(30)]
    texts = ["".join(chr(rng.randrange(0x4E00, 0x4F00)) for _ in range(n)) for n in lengths]
    whole = fp.signatures(texts, CFG)
    monkeypatch.setattr(fp, "CHUNK_BYTES", 4 * 128 * 7)  # 7 shingles per step: owners cut at edges
    monkeypatch.setattr(fp, "TEXT_CHARS", 250)
    assert fp.signatures(texts, CFG) == whole
    assert whole == [datasketch_sig(t) for t in texts]


def test_to_minhash_keeps_datasketch_usable() -> None:
    a = sh.normalise("现在我代表国务院向大会报告政府工作请予审议")
    b = sh.normalise("现在我代表国务院向大会报告政府工作")
    sig_a, sig_b = fp.signatures([a, b], CFG)
    m = MinHash(num_perm=128, seed=1, hashfunc=sh.shingle_hash)
    m.update_batch(sh.shingles(b, CFG))
    assert fp.to_minhash(sig_a, CFG).jaccard(m) == fp.estimate(sig_a, sig_b)
    assert 0.0 < fp.estimate(sig_a, sig_b) < 1.0


# --- similarity behaviour --------------------------------------------------------------------------


@given(st.one_of(zh_text, any_text).map(sh.normalise))
@settings(max_examples=100, deadline=None)
def test_a_passage_matches_itself(text: str) -> None:
    (sig,) = fp.signatures([text], CFG)
    assert fp.estimate(sig, sig) == 1.0
    assert fp.jaccard(sh.shingle_set(text, CFG), sh.shingle_set(text, CFG)) == 1.0


def test_jaccard_counts() -> None:
    a, b = np.array([1, 2, 3, 4], dtype=np.uint32), np.array([3, 4, 5], dtype=np.uint32)
    assert fp.jaccard(a, b) == pytest.approx(2 / 5)
    assert fp.jaccard(a, np.array([], dtype=np.uint32)) == 0.0


@needs_shared
def test_edited_copies_stay_similar_and_share_a_band(long_normalised: list[str]) -> None:
    rng = random.Random(5)
    edited = [edit(t, 0.05, rng) for t in long_normalised]
    pairs = zip(long_normalised, edited, strict=True)
    scores = np.array([sh.jaccard(sh.shingle_set(t, CFG), sh.shingle_set(e, CFG)) for t, e in pairs])
    assert (scores >= 0.7).mean() >= 0.9
    keys = fp.band_keys_bulk(fp.signatures(long_normalised + edited, CFG), CFG)
    n = len(long_normalised)
    shares = (keys[:n] == keys[n:]).any(axis=1)
    assert shares[scores >= 0.8].all()  # P(miss | J = 0.8) = (1 - 0.8**4)**32 ≈ 5e-8
    assert shares.mean() > 0.95


@needs_shared
def test_unrelated_paragraphs_score_low() -> None:
    report = SHARED / "corpus/reports/state-council_2024_wikisource.txt"
    lines = report.read_text(encoding="utf-8").splitlines()
    texts = sorted({t for t in map(sh.normalise, lines) if len(t) >= 50})
    sets, sigs = [sh.shingle_set(t, CFG) for t in texts], fp.signatures(texts, CFG)
    keys = fp.band_keys_bulk(sigs, CFG)
    pairs = [(i, j) for i in range(len(texts)) for j in range(i + 1, len(texts))]
    assert len(pairs) > 1000
    assert max(sh.jaccard(sets[i], sets[j]) for i, j in pairs) < 0.3
    assert max(fp.estimate(sigs[i], sigs[j]) for i, j in pairs) < 0.3
    assert np.mean([(keys[i] == keys[j]).any() for i, j in pairs]) < 0.02


# --- band keys ---------------------------------------------------------------------------------------


def test_band_keys() -> None:
    (sig,) = fp.signatures([sh.normalise("现在我代表国务院向大会报告政府工作请予审议")], CFG)
    keys = fp.band_keys(sig, CFG)
    assert len(keys) == 32 and all(-(2**63) <= k < 2**63 for k in keys)
    assert fp.band_keys(bytes(sig), CFG) == keys
    values = bytearray(sig)
    values[4 * 4 * 5 + 2] ^= 0x01  # one value in band 5
    changed = fp.band_keys(bytes(values), CFG)
    assert [i for i in range(32) if changed[i] != keys[i]] == [5]
    bulk = fp.band_keys_bulk([sig, bytes(values)], CFG)
    assert bulk.dtype == np.int64 and bulk.shape == (2, 32)
    assert bulk.tolist() == [keys, changed]
    assert len(set(keys)) == 32  # different rows, different keys


# --- the stage --------------------------------------------------------------------------------------


def test_fingerprint_stage_and_min_chars() -> None:
    nineteen = "一二三四五六七八九十，甲乙丙丁戊己庚辛壬"  # 19 characters after normalisation
    passages = [
        para(0, nineteen),
        para(1, nineteen + "癸"),
        para(2, nineteen + "癸", kind="heading"),
        para(3, "——，。"),
    ]
    out = fp.fingerprint(passages, CFG)
    assert [f.passage for f in out] == [0, 1, 2, 3]
    assert [f.normalised_chars for f in out] == [19, 20, 20, 0]
    assert [f.signature is None for f in out] == [True, False, True, True]
    assert out[1].exact == hashlib.blake2b(sh.normalise(nineteen + "癸").encode(), digest_size=16).hexdigest()
    assert out[1].exact == out[2].exact and len(out[1].exact) == 32
    assert out[1].signature == datasketch_sig(sh.normalise(nineteen + "癸"))
    assert len(out[1].signature or b"") == 4 * 128
    assert fp.fingerprint([], CFG) == ()


def _fresh_fingerprint(passage: Passage, config: FingerprintConfig = CFG) -> fp.Fingerprint:
    """The definition: one passage, nothing remembered."""
    fp._memo.clear()
    return fp.fingerprint([passage], config)[0]


@given(
    st.lists(
        st.tuples(st.integers(0, 5), st.sampled_from(["para", "heading"])),
        max_size=12,
    ),
    st.lists(st.one_of(zh_text, any_text), min_size=6, max_size=6),
)
@settings(max_examples=100, deadline=None)
def test_remembered_texts_fingerprint_as_if_new(picks: list[tuple[int, str]], texts: list[str]) -> None:
    """Texts repeat within and across calls, as a heading here and a paragraph there; every
    fingerprint equals the one computed alone."""
    passages = [para(i, texts[t], kind) for i, (t, kind) in enumerate(picks)]
    fp._memo.clear()
    half = len(passages) // 2
    remembered = fp.fingerprint(passages[:half], CFG) + fp.fingerprint(passages[half:], CFG)
    remembered += fp.fingerprint(passages, CFG)
    assert remembered == tuple(_fresh_fingerprint(p) for p in passages + passages)


def test_a_remembered_text_is_not_fingerprinted_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pins the calls because the memo's only effect is speed; its results are the property test above."""
    template = "各乡镇要认真贯彻落实县委县政府的决策部署，切实抓好安全生产工作"
    other = "今年全县地区生产总值增长百分之六点五，财政收入稳步增长"
    normalised_calls: list[list[str]] = []
    signature_calls: list[list[str]] = []
    normalise_many, signatures = fp.normalise_many, fp.signatures
    monkeypatch.setattr(fp, "normalise_many", lambda t: normalised_calls.append(list(t)) or normalise_many(t))
    monkeypatch.setattr(fp, "signatures", lambda t, c: signature_calls.append(list(t)) or signatures(t, c))
    fp._memo.clear()
    first = fp.fingerprint([para(0, template, kind="heading"), para(1, template)], CFG)
    second = fp.fingerprint([para(0, other), para(1, template), para(2, template, kind="heading")], CFG)
    assert normalised_calls == [[template], [other]]
    assert signature_calls == [[sh.normalise(template)], [sh.normalise(other)]]
    assert second[1] == first[1] and first[0].signature is None
    assert second[2] == dataclasses.replace(first[0], passage=2)


def test_the_memo_is_bounded_and_per_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fp, "MEMO_TEXTS", 3)
    fp._memo.clear()
    fp.fingerprint([para(i, f"第{i}段正文内容足够长可以计算签名的文字") for i in range(5)], CFG)
    assert len(fp._memo[CFG]) == 3
    other = FingerprintConfig(seed=2)
    fp.fingerprint([para(0, "第0段正文内容足够长可以计算签名的文字")], other)
    assert list(fp._memo) == [other] and len(fp._memo[other]) == 1


def test_the_memo_holds_a_digest_of_each_text_not_the_text() -> None:
    """What the memo keeps a passage's text by: 16 bytes, whatever the text's length (the texts
    themselves, kept as keys, were a quarter of a full memo)."""
    texts = [f"第{i}段正文内容足够长可以计算签名的文字" * (i + 1) for i in range(4)] + ["\ud800孤"]
    fp._memo.clear()
    fp.fingerprint([para(i, text) for i, text in enumerate(texts)], CFG)
    keys = list(fp._memo[CFG]._entries)
    assert keys == [fp.text_key(text) for text in texts]
    assert all(isinstance(key, bytes) and len(key) == 16 for key in keys)
    assert len(set(keys)) == len(texts)


@given(st.lists(st.one_of(zh_text, any_text), max_size=8), st.lists(st.integers(0, 7), max_size=8))
@settings(max_examples=100, deadline=None)
def test_normalising_through_the_memo_is_normalising(texts: list[str], fingerprinted: list[int]) -> None:
    """``normalise_remembered`` gives ``normalise_many``'s forms, the memo's own strings where it
    holds the text (one copy for the memo and the verify stage's ``earlier_texts``), and leaves
    the memo's order alone."""
    fp._memo.clear()
    seen = [texts[i] for i in fingerprinted if i < len(texts)]
    fp.fingerprint([para(i, text) for i, text in enumerate(seen)], CFG)
    order = list(fp._memo[CFG]._entries)
    out = fp.normalise_remembered(texts)
    assert out == [sh.normalise(text) for text in texts]
    held = fp._memo[CFG]._entries
    for text, normalised in zip(texts, out, strict=True):
        if text in seen:
            assert normalised is held[fp.text_key(text)].normalised
    assert list(fp._memo[CFG]._entries) == order


def test_parameters_pin_everything() -> None:
    params = fp.parameters(CFG)
    assert all(isinstance(v, str | int) for v in params.values())
    for key in ("tokenizer", "shingle_size", "num_perm", "bands", "rows", "seed", "min_chars"):
        assert params[key] == getattr(CFG, key)
    assert params["normalisation_version"] == 1 and params["minhash_scheme"] == "datasketch-affine32"
    assert fp.parameters(FingerprintConfig(seed=2)) != params


def test_most_shared_keeps_the_candidates_sharing_most_bands_ties_to_the_earliest() -> None:
    shared = {40: 2, 7: 5, 12: 2, 3: 1, 30: 5}
    assert fp.most_shared(shared, 3) == [7, 12, 30]  # 7 and 30 (5 bands), then 12 before 40
    assert fp.most_shared(shared, 10) == [3, 7, 12, 30, 40]


# --- anchors -----------------------------------------------------------------------------------------


@given(
    st.lists(st.tuples(st.one_of(zh_text, any_text), st.sampled_from(["para", "heading"])), max_size=8),
    st.randoms(use_true_random=False),
)
@settings(max_examples=60, deadline=None)
def test_a_signed_passage_carries_the_anchors_of_its_text_alone(
    passages: list[tuple[str, str]], rng: random.Random
) -> None:
    """Whatever else the file holds and whatever the process fingerprinted before (the memo: a
    text seen as a heading first, signed later), a signed passage's anchors are those of its
    normalised text on its own, and an unsigned one has none. Rows built from them are the rows
    built from the texts (``_buckets.anchor_rows``, what the coordinator computed before)."""
    from archiver.index import _buckets as buckets

    config = FingerprintConfig(min_chars=8)
    shuffled = passages[:]
    rng.shuffle(shuffled)
    fp.fingerprint([para(i, t, "heading") for i, (t, _) in enumerate(shuffled)], config)  # the memo
    prints = fp.fingerprint([para(i, t, kind) for i, (t, kind) in enumerate(passages)], config)  # type: ignore[arg-type]
    for print_ in prints:
        alone, _ = fp.anchors([print_.normalised])
        expected = alone.astype("<u4").tobytes() if print_.signature is not None else b""
        assert print_.anchors == expected
    signed = [(i + 100, f) for i, f in enumerate(prints) if f.signature is not None]
    rows = buckets.computed_anchor_rows([(i, f.anchors) for i, f in signed], config)
    assert np.array_equal(rows, buckets.anchor_rows([(i, f.normalised) for i, f in signed], config))
    assert len(rows) == sum(len(f.anchors) // 4 for _, f in signed)


def test_anchors_of_real_paragraphs_travel_on_their_fingerprints(real_paragraphs: list[str]) -> None:
    prints = fp.fingerprint([para(i, t) for i, t in enumerate(real_paragraphs)], CFG)
    signed = [f for f in prints if f.signature is not None]
    assert len(signed) > 250 and all(f.anchors for f in signed)
    hashes, owner = fp.anchors([f.normalised for f in signed])
    assert [f.anchors for f in signed] == [
        hashes[owner == i].astype("<u4").tobytes() for i in range(len(signed))
    ]
