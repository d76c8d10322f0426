"""Character alignment (``stages.align``): copied spans found through light edits, moved
sentences found where they went, set phrases not counted, offsets mapped back onto the cleaned
text; the anchors that make such pairs candidates."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archiver.index import _buckets as buckets
from archiver.stages import align
from archiver.stages.shingle import normalise

# Real sentences, verbatim from the 2024 government work report (as in tests/test_index.py).
S1 = "国家实验室体系建设有力推进。"
S2 = "关键核心技术攻关成果丰硕，航空发动机、燃气轮机、第四代核电机组等高端装备研制取得长足进展。"
S3 = "技术合同成交额增长28.6%。"
S4 = "推进中国－东盟自贸区3.0版谈判，推动加入《数字经济伙伴关系协定》。"
FRESH = "全县上下团结一心，克服困难，各项工作稳步推进，群众满意度明显提高。"
DATED = "2023年全县完成植树造林1.2万亩，森林覆盖率达到45.3%，比上年提高1.1个百分点。"


def regions(a: str, b: str) -> list[align.Region]:
    return align.align(normalise(a), normalise(b))


def cleaned(text: str, region: align.Region) -> str:
    lo, hi = align.cleaned_span(text, align.norm_offsets(text), region.start, region.end)
    return text[lo:hi]


def test_a_changed_date_and_figures_stay_inside_one_region() -> None:
    edited = DATED.replace("2023年", "2024年").replace("1.2万亩", "1.5万亩").replace("45.3%", "46.8%")
    found = regions(edited, DATED)
    assert len(found) == 1
    assert found[0].matched < found[0].end - found[0].start  # the changed figures are bridged
    # the date at the very start is within SNAP characters of the sentence's start: all of it
    assert cleaned(edited, found[0]) == edited


def test_a_changed_place_name_stays_inside_one_region() -> None:
    a = "川林县坚持生态优先，全面推行河长制，完成水土流失治理面积三十平方公里。"
    b = a.replace("川林县坚持", "青峰县坚持")
    found = regions(b, a)
    assert len(found) == 1 and cleaned(b, found[0]) == b


def test_copied_sentences_in_a_new_paragraph_are_found_and_the_fresh_ones_are_not() -> None:
    source = S1 + S2 + S3
    mosaic = FRESH + S2
    found = regions(mosaic, source)
    assert len(found) == 1
    start = len(normalise(FRESH))
    assert (found[0].start, found[0].end) == (start, start + len(normalise(S2)))
    other = len(normalise(S1))
    assert (found[0].other_start, found[0].other_end) == (other, other + len(normalise(S2)))


def test_a_moved_sentence_is_a_region_of_its_own() -> None:
    source = S2 + FRESH + S4
    moved = S4 + S2  # S4 moved before S2, FRESH dropped
    found = regions(moved, source)
    n2, nf, n4 = (len(normalise(s)) for s in (S2, FRESH, S4))
    assert [(r.start, r.end, r.other_start, r.other_end) for r in found] == [
        (0, n4, n2 + nf, n2 + nf + n4),
        (n4, n4 + n2, 0, n2),
    ]


def test_an_embedded_paragraph_is_found_inside_the_longer_one() -> None:
    inner = S1 + S2
    outer = FRESH + inner + S4
    found = regions(outer, inner)
    start = len(normalise(FRESH))
    assert [(r.start, r.end) for r in found] == [(start, start + len(normalise(inner)))]


def test_a_set_phrase_shorter_than_the_minimum_is_not_a_region() -> None:
    phrase = "全面贯彻党的二十大精神"  # 11 characters, in two unrelated sentences
    a = f"我们要{phrase}，扎实推进乡村振兴各项重点任务。"
    b = f"各部门{phrase}，持续优化营商环境。"
    assert regions(a, b) == []


def test_unrelated_passages_have_no_region() -> None:
    assert regions(S2 + S3, FRESH + S4) == []


HAN = "的一是了我不人在他有这个上们来到时大地为子中你说生国年着就那和要她出也得里后自以会"


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=HAN, min_size=13))
def test_a_passage_aligned_with_itself_is_one_full_span(text: str) -> None:
    assert align.align(text, text) == [align.Region(0, len(text), 0, len(text), len(text), len(text))]


@settings(max_examples=60, deadline=None)
@given(
    st.text(alphabet="的一是了我不人在他有这个上们来到时大地为子中", min_size=13, max_size=80),
    st.text(alphabet="ABCDEFGH", max_size=20),
    st.text(alphabet="XYZ", max_size=20),
)
def test_a_passage_inside_another_is_found_whole(text: str, before: str, after: str) -> None:
    """Without the fast path for equal texts: the same text between foreign characters."""
    found = align.align(before + text + after, text)
    assert sum(r.end - r.start for r in found) == len(text)
    assert found[0].start == len(before) and found[-1].end == len(before) + len(text)


def test_offsets_map_normalised_characters_back_onto_the_cleaned_text() -> None:
    text = "（一）加強(qiáng)生態保護。２０２４年，全縣植樹１２萬株！"
    offsets = align.norm_offsets(text)
    normalised = normalise(text)
    assert len(offsets) == len(normalised)
    for k, at in enumerate(offsets):
        assert normalise(text[at]) == normalised[k] or text[at].isascii()
    # a span of the normalised text becomes the cleaned text's span, with its sentence's end
    start = normalised.index("2024")
    lo, hi = align.cleaned_span(text, offsets, start, len(normalised))
    assert text[lo:hi] == "２０２４年，全縣植樹１２萬株！"


def test_a_span_is_widened_to_its_sentence_only_across_a_few_characters() -> None:
    text = "甲乙丙丁戊己庚辛壬癸子丑。寅卯辰巳午未申酉戌亥天地玄黄宇宙洪荒。"
    offsets = align.norm_offsets(text)
    # three characters short of the first sentence's start and end: widened to the sentence
    assert align.cleaned_span(text, offsets, 3, 9) == (0, 13)
    # more than SNAP characters away: left as aligned
    assert align.cleaned_span(text, offsets, 18, 24) == (19, 25)
    assert align.whole_sentences(text, 0, 13) and not align.whole_sentences(text, 19, 25)


def test_anchors_of_two_texts_sharing_a_long_run_meet() -> None:
    shared = normalise(S2)
    assert len(shared) >= 17  # the winnowing guarantee: 6 + 12 - 1 characters
    a, b = normalise(FRESH) + shared, shared + normalise(S4)
    hashes, owner = buckets.anchors([a, b, "短"])
    assert set(owner.tolist()) == {0, 1}  # a text shorter than a 6-gram has none
    assert np.intersect1d(hashes[owner == 0], hashes[owner == 1]).size >= 1
    # about 2 / (window + 1) of the positions, never more than one per position
    assert hashes[owner == 0].size <= len(a) - 5


@settings(max_examples=80, deadline=None)
@given(st.text(alphabet=HAN[:8], max_size=60), st.text(alphabet=HAN[:8], max_size=60))
def test_alignment_is_the_same_whichever_side_came_first(a: str, b: str) -> None:
    swapped = [
        align.Region(r.other_start, r.other_end, r.start, r.end, r.matched, r.longest)
        for r in align.align(b, a)
    ]
    assert align.align(a, b) == sorted(swapped)


# ---------------------------------------------------------------- a whole task at once


@st.composite
def related_pairs(draw: st.DrawFn) -> list[tuple[str, str]]:
    """Pairs of texts over a few characters (so grams repeat, some past MAX_POSITIONS), some
    outside 16 bits (keys of dense ids): pieces of one copied into the other with edits
    between, either order, equal texts, short texts."""
    letters = st.sampled_from(HAN[: draw(st.integers(2, 12))] + draw(st.sampled_from(["", "𠀀𪚥"])))
    text = st.text(alphabet=letters, max_size=90)
    pairs: list[tuple[str, str]] = []
    for _ in range(draw(st.integers(1, 8))):
        a = draw(text)
        cuts = sorted(draw(st.lists(st.integers(0, len(a)), min_size=2, max_size=6)))
        edits = st.text(alphabet=letters, max_size=5)
        b = "".join(a[lo:hi] + draw(edits) for lo, hi in itertools.pairwise(cuts))
        kind = draw(st.sampled_from(["related", "swapped", "equal", "short", "unrelated"]))
        pair = {
            "related": (a, b),
            "swapped": (b, a),
            "equal": (a, a),
            "short": (a, a[:5]),
            "unrelated": (a, draw(text)),
        }[kind]
        pairs.append(pair)
    return pairs


@settings(max_examples=150, deadline=None)
@given(related_pairs())
def test_aligning_a_whole_task_gives_each_pairs_regions(pairs: list[tuple[str, str]]) -> None:
    assert align.align_many(pairs) == [align.align(a, b) for a, b in pairs]


def test_a_task_with_grams_repeated_past_the_cap_and_moved_sentences() -> None:
    s2, s4, fresh = normalise(S2), normalise(S4), normalise(FRESH)
    repeated = "人民政府" * (align.MAX_POSITIONS + 4)
    pairs = [
        (repeated + s2, "人民政府" * 18 + s2 + s4),
        (s4 + fresh + s2, s2 + s4),  # two moved sentences: two regions
        (s2 + s4, s4 + fresh + s2),
        (s2, s2),
        (fresh, s4),
    ]
    pairs += [
        # a gram before the copy more than MAX_POSITIONS times: the run from it is not seeded
        ("".join("人民政府" + c for c in HAN[: align.MAX_POSITIONS]) + "人民政府" + s2, "人民政府" + s2),
        # one sentence twice on one side: it is matched once
        (s2, s2 + fresh + s2),
        (s2 + fresh + s2, s2),
        # edited in two places: 13 equal characters in 4 common grams, the fewest of a region
        ("甲乙丙丁子戊己庚辛丑壬癸天地玄", "甲乙丙丁寅戊己庚辛卯壬癸天地玄"),
    ]
    expected = [align.align(a, b) for a, b in pairs]
    assert align.align_many(pairs) == expected
    assert len(expected[1]) == 2 and expected[3][0].matched == len(s2) and expected[4] == []
    assert len(expected[6]) == len(expected[7]) == 1 and expected[8][0].matched == 13


def test_a_task_with_more_distinct_characters_than_gram_keys_hold() -> None:
    # Beyond 2**16 distinct characters the grams do not fit the keys: the pairs are aligned one
    # by one, with the same regions.
    every = "".join(chr(c) for c in range(0x4E00, 0x4E00 + (1 << 16) + 2000) if not 0xD800 <= c < 0xE000)
    copied = every[500:600]
    pairs = [(every, "甲乙" + copied + "丙丁"), (copied, every[550:700])]
    found = align.align_many(pairs)
    assert found == [align.align(a, b) for a, b in pairs]
    assert (found[0][0].start, found[0][0].end, found[0][0].other_start) == (500, 600, 2)


@settings(max_examples=200, deadline=None)
@given(
    st.integers(0, 2**32),
    st.lists(st.tuples(st.integers(0, 11), st.booleans(), st.booleans()), max_size=400),
)
def test_grams_are_numbered_among_the_leading_ones_through_colliding_buckets(
    seed: int, windows: list[tuple[int, bool, bool]]
) -> None:
    # 12 keys whose hashes fall in 4 of the table's 1,024 buckets (the hash inverted): most
    # examples have buckets shared by two or more.
    rng = np.random.default_rng(seed)
    inverse = pow(align._MIX, -1, 2**64)
    buckets, low = rng.integers(0, 4, 12).tolist(), rng.integers(0, 2**54, 12).tolist()
    pool = [((b << 54 | n) * inverse) % 2**64 for b, n in zip(buckets, low, strict=True)]
    keys = [pool[k] for k, _, _ in windows]
    key = np.array(keys, dtype=np.uint64)
    lead_at = np.array([n for n, (_, leads, _) in enumerate(windows) if leads], dtype=np.int64)
    inside = np.array([leads or other for _, leads, other in windows], dtype=bool)
    number_of = {k: n for n, k in enumerate(sorted({keys[n] for n in lead_at.tolist()}))}
    expected = [
        number_of.get(k, -1) if leads or other else -1
        for k, (_, leads, other) in zip(keys, windows, strict=True)
    ]
    assert align._numbered(key, lead_at, inside).tolist() == expected


def one_to_one_by_characters(
    ordered: list[tuple[int, int, int]], la: int, lb: int
) -> list[tuple[int, int, int]]:
    """The one-to-one matching written plainly: each run, in order, keeps the first of its
    longest stretches of characters free on both sides, if at least a seed long."""
    used_a, used_b = [False] * la, [False] * lb
    kept = []
    for i, j, n in ordered:
        free = [not used_a[i + k] and not used_b[j + k] for k in range(n)]
        stretches = [(k, sum(1 for _ in group)) for k, group in _stretches(free)]
        if not stretches:
            continue
        lo, length = max(stretches, key=lambda s: (s[1], -s[0]))
        if length >= align.SEED:
            for k in range(lo, lo + length):
                used_a[i + k] = used_b[j + k] = True
            kept.append((i + lo, j + lo, length))
    return kept


def _stretches(free: list[bool]) -> list[tuple[int, list[bool]]]:
    out, k = [], 0
    for is_free, group in itertools.groupby(free):
        members = list(group)
        if is_free:
            out.append((k, members))
        k += len(members)
    return out


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_the_greedy_matching_keeps_each_runs_first_longest_free_stretch(data: st.DataObject) -> None:
    # Short texts and many long runs: most overlap runs taken before them, partly or whole.
    la, lb = data.draw(st.integers(4, 40)), data.draw(st.integers(4, 40))
    runs = data.draw(
        st.lists(
            st.integers(4, min(la, lb)).flatmap(
                lambda n: st.tuples(st.integers(0, la - n), st.integers(0, lb - n), st.just(n))
            ),
            max_size=30,
        )
    )
    ordered = sorted(runs, key=lambda r: (-r[2], r[0], r[1]))
    assert align._greedy(ordered, la, lb) == one_to_one_by_characters(ordered, la, lb)


def test_a_run_cut_in_two_by_a_taken_piece_keeps_the_first_of_its_equal_stretches() -> None:
    runs = [(0, 0, 12), (4, 20, 12), (20, 24, 12)]
    # (4, 20) keeps its last 4 characters, b[28:32]: the middle of (20, 24) on b's side.
    expected = [(0, 0, 12), (12, 28, 4), (20, 24, 4)]
    assert one_to_one_by_characters(runs, 60, 60) == expected
    assert align._greedy(runs, 60, 60) == expected


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 2**32), st.integers(0, 300), st.sampled_from([3, 50, 2**21]))
def test_runs_are_ordered_as_lexsort_orders_them_one_key_or_many(seed: int, rows: int, bound: int) -> None:
    # Four columns below 2**21 need 84 bits: lexsort itself; below 50, one integer key.
    rng = np.random.default_rng(seed)
    columns = [rng.integers(0, bound, rows) for _ in range(4)]
    order = align._sort_order(*((column, bound) for column in columns))
    assert order.tolist() == np.lexsort(columns[::-1]).tolist()


_REGION = st.builds(
    lambda start, width, other_start, other_width, run: align.Region(
        start, start + width, other_start, other_start + other_width, min(width, other_width), run
    ),
    st.integers(0, 50),
    st.integers(0, 40),
    st.integers(0, 50),
    st.integers(0, 40),
    st.integers(0, 40),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.lists(_REGION, max_size=4), st.integers(1, 60), st.integers(1, 60)), max_size=8))
def test_whole_paragraphs_is_whole_paragraph_of_each_pair(
    pairs: list[tuple[list[align.Region], int, int]],
) -> None:
    found = [regions for regions, _, _ in pairs]
    lengths = np.array([n for _, n, _ in pairs], dtype=np.int64)
    other_lengths = np.array([n for _, _, n in pairs], dtype=np.int64)
    some, whole = align.whole_paragraphs(align.as_columns(found), lengths, other_lengths)
    assert some.tolist() == [k for k, regions in enumerate(found) if regions]
    assert whole.tolist() == [
        align.whole_paragraph(found[k], int(lengths[k]), int(other_lengths[k])) for k in some.tolist()
    ]


# ---------------------------------------------------------------- pairs that cannot align


@st.composite
def near_minimum_tasks(draw: st.DrawFn) -> tuple[list[str], list[int], list[int]]:
    """A task's texts and pairs (a few lead texts, each paired with several others), the others
    sharing with their lead runs of 3 to 9 characters with gaps of 0 to 11 between them, on
    each side its own: regions just at or below ``MIN_MATCHED`` and ``GAP``, short ones over
    grams repeated (a small alphabet), and runs shared with another pair's lead only."""
    fresh = st.text(alphabet=HAN[10:14] + "甲乙丙", max_size=12)
    leads = draw(
        st.lists(
            st.text(alphabet=HAN[: draw(st.integers(3, 10))], min_size=4, max_size=60), min_size=1, max_size=3
        )
    )
    texts = list(dict.fromkeys(leads))
    ia: list[int] = []
    ib: list[int] = []
    for _ in range(draw(st.integers(1, 10))):
        lead = draw(st.integers(0, len(texts) - 1)) if len(texts) > 1 else 0
        source = texts[draw(st.integers(0, len(texts) - 1))] if draw(st.booleans()) else texts[lead]
        pieces = [draw(fresh)]
        at = 0
        for _ in range(draw(st.integers(1, 4))):
            at = min(at + draw(st.sampled_from([0, 1, 7, 8, 9])), len(source))
            run = draw(st.sampled_from([3, 4, 4, 5, 6, 9]))
            edit = draw(st.sampled_from([0, 2, 7, 8, 8, 9, 11]))
            pieces += [
                source[at : at + run],
                draw(st.text(alphabet="甲乙丙丁戊", min_size=edit, max_size=edit)),
            ]
            at += run
        other = "".join(pieces) + draw(fresh)
        if other in texts or len(other) < align.SEED:
            continue
        texts.append(other)
        ia.append(lead)
        ib.append(len(texts) - 1)
    return texts, ia, ib


@settings(max_examples=300, deadline=None)
@given(near_minimum_tasks())
def test_the_pairs_left_unseeded_have_no_region_and_the_others_the_same(
    task: tuple[list[str], list[int], list[int]],
) -> None:
    texts, ia, ib = task
    a, b = np.array(ia, dtype=np.int64), np.array(ib, dtype=np.int64)
    found = align.align_columns(texts, a, b)
    assert all(len(column) == len(found[0]) for column in found)
    assert [c.tolist() for c in found] == [
        c.tolist() for c in align.align_columns(texts, a, b, prefilter=False)
    ]
    assert align.as_lists(found, len(ia)) == [
        align.align(texts[x], texts[y]) for x, y in zip(ia, ib, strict=True)
    ]


def test_a_pair_sharing_too_little_in_one_place_is_not_seeded_and_one_sharing_enough_is() -> None:
    lead = "甲乙丙丁戊己庚辛壬癸子丑寅卯辰巳午未申酉戌亥"
    # 12 characters in one run, and two runs of 6 too far apart: at most 12 in one place.
    short = "天地" + lead[:12] + "玄黄"
    apart = lead[:6] + "天地玄黄宇宙洪荒日月" + lead[10:16]
    # 13 characters in runs of 4, 4 and 5, with edits of 8 and 2 characters between.
    edited = lead[:4] + "天地玄黄宇宙洪荒" + lead[4:8] + "日月" + lead[8:13]
    texts = [lead, short, apart, edited]
    ia, ib = np.zeros(3, dtype=np.int64), np.array([1, 2, 3], dtype=np.int64)
    plain = align._bulk_seeds(texts, ia, ib)
    bounded = align._bulk_seeds(texts, ia, ib, regions=(align.MIN_MATCHED, align.GAP))
    assert plain is not None and bounded is not None
    assert set(plain[0].tolist()) == {0, 1, 2}  # every pair has seeds…
    assert set(bounded[0].tolist()) == {2}  # …the bound keeps only the one that can align
    keep = plain[0] == 2
    assert [c.tolist() for c in bounded] == [c[keep].tolist() for c in plain]
    assert align.align(short, lead) == align.align(apart, lead) == []
    assert [r.matched for r in align.align(lead, edited)] == [13]


def test_a_task_with_more_lead_texts_and_grams_than_the_bound_holds_is_seeded_whole(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lead = "甲乙丙丁戊己庚辛壬癸子丑寅卯辰巳午未申酉戌亥"
    texts = [lead, "天地" + lead[:12] + "玄黄", lead[:4] + "天地玄黄宇宙洪荒" + lead[4:13]]
    ia, ib = np.zeros(2, dtype=np.int64), np.array([1, 2], dtype=np.int64)
    monkeypatch.setattr(align, "_MAY_ALIGN_CELLS", 0)
    plain = align._bulk_seeds(texts, ia, ib)
    bounded = align._bulk_seeds(texts, ia, ib, regions=(align.MIN_MATCHED, align.GAP))
    assert plain is not None and bounded is not None
    assert set(bounded[0].tolist()) == {0, 1}
    assert [c.tolist() for c in bounded] == [c.tolist() for c in plain]
    assert align.as_lists(align.align_columns(texts, ia, ib), 2) == [align.align(lead, t) for t in texts[1:]]
