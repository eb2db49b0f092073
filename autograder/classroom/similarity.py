"""Pairs of students whose work is suspiciously alike: ``OUTDIR/similarity/report.html`` and ``similarity.csv``.

Two independent signals over a graded class (``grade-all``'s OUTDIR):

* code similarity: copydetect's MOSS-style winnowing (Schleimer, Wilkerson and Aiken, SIGMOD 2003) over
  each student's graded source as kept in ``code/<id>/`` (the .py files graded, or a notebook's graded
  cells).  copydetect tokenises with Pygments and replaces names by placeholders, so renamed variables
  and changed comments or spacing do not hide a copy.  Every k-gram of the released templates
  (``config.templates``: the stubs and the given code) is boilerplate: removed from every student's
  fingerprints before comparing, so code everyone got is never evidence.
* identical wrong values: the grader records a hash of the value each failing test saw
  (``compare.value_digest``, ``digests`` in ``raw/<id>.json``).  Bit-identical wrong floats mean the
  same operations in the same order; a wrong value shared by many hand-ins, or a failure many fail with
  the same message, is a common bug and is not counted (see ``Thresholds.rare``).  One bug repeats its
  wrong values in every test it fails and in every caller's, so the evidence is counted in bugs: the
  functions holding rare shared values that both students fail on their own (no grader hint putting the
  failure down to another function, ``clusters.signatures``).

Thresholds are documented in README.md ("Similarity between students") and are defaults of
``Thresholds``.  Nothing here decides misconduct: the report ranks pairs for a person to read.
"""

from __future__ import annotations

import csv
import html
import io
import itertools
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

from autograder.classroom.clusters import normalise, signatures
from autograder.classroom.gradebook import load_records
from autograder.config import Config
from autograder.grading.results import write_text_atomic
from autograder.text import disk_name, spreadsheet_safe

FOLDER = "similarity"
SHOWN = 100  # pairs shown side by side in report.html (flagged first); similarity.csv lists every pair listed


@dataclass(frozen=True)
class Thresholds:
    """When a pair is flagged.  Lengths count characters of copydetect's filtered code (a name is one)."""

    noise: int = 25  # copydetect noise_t: matches shorter than this are never seen (k-gram length)
    guarantee: int = 30  # copydetect guarantee_t: matches this long are always seen (window = 30 - 25 + 1)
    code: float = 0.5  # flag: share of either student's own (non-template) code found in the other's
    min_overlap: int = 150  # ... and at least this much matched code: one short function is not enough
    listed: float = 0.2  # pairs listed in similarity.csv (flagged or not)
    rare: int = 2  # a wrong value counts when at most this many hand-ins returned it or failed its test alike
    wrong_values: int = 2  # flag: rare identical wrong values in at least this many functions both fail on their own


@dataclass(slots=True)  # a class of hundreds has hundreds of thousands of pairs
class Pair:
    a: str
    b: str
    similarity: tuple[float, float] = (0.0, 0.0)  # share of a's and of b's own code matched
    overlap: int = 0  # filtered characters in common
    slices: tuple = ()  # copydetect's matched character spans in a's and b's text (the pairs report.html shows)
    shared_values: list[tuple[str, int]] = field(default_factory=list)  # (test, students sharing the value)
    bugs: tuple[str, ...] = ()  # functions with rare shared values both fail on their own (values_flag counts)
    code_flag: bool = False
    values_flag: bool = False

    @property
    def score(self) -> float:
        return max(self.similarity)

    def rare_values(self, limit: int) -> list[str]:
        return [t for t, k in self.shared_values if k <= limit]

    @property
    def flagged(self) -> bool:
        return self.code_flag or self.values_flag

    def listed(self, t: Thresholds) -> bool:
        """Whether similarity.csv and report.html list the pair."""
        return self.flagged or self.score >= t.listed or bool(self.rare_values(t.rare))


def student_text(folder: Path, files: tuple[str, ...]) -> str:
    """One student's graded files as one text, in the config's order, each under a comment naming it."""
    paths = sorted(folder.glob("*.py"), key=lambda p: (files.index(p.name) if p.name in files else len(files),
                                                      p.name))
    return "".join(f"# ===== {p.name} =====\n{p.read_text(encoding='utf-8', errors='replace')}\n" for p in paths)


def kgram_hashes(filtered: str, k: int):
    """A deterministic hash of every k-character substring (a polynomial rolling hash, as MOSS uses).

    copydetect hashes k-grams with Python's ``hash``, which differs from one process to the next: the
    winnowed fingerprints, hence the scores, would change between two runs on the same class.
    """
    import numpy as np

    codes = np.frombuffer(filtered.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    n = len(codes) - k + 1
    if n <= 0:
        return np.array([], dtype=np.int64)
    h = np.zeros(n, dtype=np.uint64)
    for j in range(k):  # arithmetic modulo 2**64
        h = h * np.uint64(1_000_003) + codes[j:j + n]
    return h.view(np.int64)


_FILE_START = re.compile(r"(?m)^(?=# ===== .* =====$)")


def file_pieces(text: str) -> list[str]:
    """A ``student_text`` cut into its files, each from its ``# ===== name =====`` line to the next."""
    return [piece for piece in _FILE_START.split(text) if piece]


class FileLexer:
    """copydetect's ``filter_code`` of single files, each distinct file lexed once while it is still needed.

    A class hands in many identical files (untouched given code, files a student did not change), and
    Pygments' lexing is what fingerprinting costs.  ``remaining`` counts the texts still to take each file: a
    file's result is kept only until its last holder has taken it, so a class of distinct files costs no
    memory here.
    """

    def __init__(self, texts=()) -> None:
        self.remaining = Counter(piece for text in texts for piece in file_pieces(text))
        self.kept: dict[str, tuple] = {}

    def __call__(self, piece: str):
        from copydetect.utils import filter_code

        if piece in self.kept:
            found = self.kept[piece]
        else:
            found = filter_code(piece, "submission.py")
            found[1].setflags(write=False)
        if self.remaining[piece] > 1:
            self.kept[piece] = found
            self.remaining[piece] -= 1
        else:
            self.kept.pop(piece, None)
            self.remaining.pop(piece, None)
        return found


def filtered_code(text: str, lexer: FileLexer | None = None):
    """copydetect's ``filter_code`` of a ``student_text``: (filtered text, offsets back to the raw text).

    Each graded file is filtered on its own (by ``lexer``, which may share the work between texts) and
    the results joined, offsets shifted to the whole text.
    """
    import numpy as np

    lexer = lexer or FileLexer()
    filtered, offsets, raw_seen, done = [], [], 0, 0
    for piece in file_pieces(text):
        code, marks = lexer(piece)
        if offsets:  # filter_code's leading [0, 0] would sit out of order after the previous file's marks
            marks = marks[1:]
        if len(marks):
            offsets.append(marks + np.array([done, raw_seen - done]))
        filtered.append(code)
        raw_seen, done = raw_seen + len(piece), done + len(code)
    return "".join(filtered), (np.concatenate(offsets) if offsets else np.array([]))


def _fingerprint(text: str, thresholds: Thresholds, boilerplate=None, window: int | None = None,
                 lexer: FileLexer | None = None):
    """copydetect's CodeFingerprint of a text, from its own steps (filter_code, winnow) with kgram_hashes."""
    import numpy as np
    from copydetect.utils import get_token_coverage, winnow

    k = thresholds.noise
    filtered, offsets = filtered_code(text, lexer)
    hashes, idx = winnow(kgram_hashes(filtered, k), window or thresholds.guarantee - thresholds.noise + 1,
                         remove_duplicates=False)
    if boilerplate is not None and len(boilerplate):
        keep = ~np.isin(hashes, boilerplate)
        hashes, idx = hashes[keep], idx[keep]
    hash_idx: dict[int, list[int]] = {}
    for value, i in zip(hashes.tolist(), idx.tolist()):
        hash_idx.setdefault(value, []).append(i)
    # The attributes copydetect.compare_files reads, and flat arrays for match_spans.
    return SimpleNamespace(k=k, raw_code=text, filtered_code=filtered, offsets=offsets, hashes=set(hash_idx),
                           hash_idx=hash_idx, token_coverage=get_token_coverage(hash_idx, k, len(filtered)),
                           unique=np.array(sorted(hash_idx), dtype=np.int64), all_hashes=hashes, all_idx=idx)


def match_spans(a: SimpleNamespace, b: SimpleNamespace) -> tuple[int, tuple[float, float], tuple]:
    """copydetect.compare_files on two fingerprints, with its per-hash loop done by numpy.

    The same result (matched characters of ``a``, each one's share of its own code, the matched spans
    in each raw text), about ten times faster on pairs that share much: what a class of hundreds needs.
    """
    import numpy as np
    from copydetect.utils import get_copied_slices

    common = np.intersect1d(a.unique, b.unique, assume_unique=True)
    if not len(common):
        return 0, (0.0, 0.0), (np.array([]), np.array([]))
    spans, shares = [], []
    for fp in (a, b):
        found = get_copied_slices(fp.all_idx[np.isin(fp.all_hashes, common)], fp.k)
        tokens = int(np.sum(found[1] - found[0]))
        shares.append(tokens / fp.token_coverage if len(fp.filtered_code) and fp.token_coverage else 0.0)
        if len(fp.offsets) > 0:  # from filtered positions back to the raw text, as compare_files does
            found = found + fp.offsets[:, 1][np.clip(np.searchsorted(fp.offsets[:, 0], found), 0,
                                                     fp.offsets.shape[0] - 1)]
        spans.append((found, tokens))
    return spans[0][1], (shares[0], shares[1]), (spans[0][0], spans[1][0])


def boilerplate_hashes(templates: Path | None, files: tuple[str, ...], thresholds: Thresholds):
    """Every k-gram hash of the released templates (as copydetect's own boilerplate option computes them).

    Of each template file and of all of them joined as ``student_text`` joins a student's files, so that
    k-grams across the end of one file and the start of the next are template code too.
    """
    import numpy as np

    if not templates or not templates.is_dir():
        return np.array([], dtype=np.int64)
    texts = [p.read_text(encoding="utf-8") for p in sorted(templates.glob("*.py"))]
    hashes: list = []
    for text in [*texts, student_text(templates, files)]:
        hashes.extend(_fingerprint(text, thresholds, window=1).hashes)
    return np.unique(np.array(hashes, dtype=np.int64))


def compare(texts: dict[str, str], digests: dict[str, dict[str, str]], templates: Path | None,
            files: tuple[str, ...] = (), thresholds: Thresholds = Thresholds(), jobs: int = 1,
            groups: dict[str, str] | None = None, own: dict[str, set[str]] | None = None,
            messages: dict[str, dict[str, str]] | None = None) -> list[Pair]:
    """Every pair of students with any evidence, most similar first.

    ``texts``: student -> graded source (``student_text``); ``digests``: student -> test -> value hash.
    ``jobs``: processes that fingerprint and compare a large class (grade-all's worker count); the result is
    the same whatever their number.  ``groups``: student -> their submission, for the members of a group
    submission, who are never a pair (one hand-in, graded once for each member).  ``own``: student -> the
    functions they fail on their own (``own_failures``); a student not in it counts every function.
    ``messages``: student -> failing test -> its message normalised with the wrong values (``failure_messages``).
    """
    groups = groups or {}
    boilerplate = boilerplate_hashes(templates, files, thresholds)
    # Students who handed in the same text (copies of one solution, the same untouched template) share one
    # fingerprint, and each pair of distinct texts is compared once: a class of hundreds holds many.
    distinct = list(dict.fromkeys(t for t in texts.values() if t.strip()))
    index = {text: i for i, text in enumerate(distinct)}
    _SHARED.update(thresholds=thresholds, boilerplate=boilerplate)
    try:
        fingerprints = _in_parallel(_fingerprints, distinct, jobs)
        _SHARED["fingerprints"] = fingerprints
        students = sorted(s for s, t in texts.items() if t.strip())
        # In the students' order: a pair's figures are of its first student first, as they are listed.
        wanted = list(dict.fromkeys((index[texts[a]], index[texts[b]])
                                    for a, b in itertools.combinations(students, 2)))
        compared = dict(zip(wanted, _in_parallel(_code_matches, wanted, jobs)))
    finally:
        _SHARED.clear()
    pairs: dict[tuple[str, str], Pair] = {}

    def together(a: str, b: str) -> bool:
        return a in groups and groups.get(a) == groups.get(b)

    for a, b in itertools.combinations(students, 2):
        if together(a, b):
            continue
        found = compared[index[texts[a]], index[texts[b]]]
        if found is not None:
            overlap, sims = found
            pairs[a, b] = Pair(a, b, (float(sims[0]), float(sims[1])), int(overlap))
    holders: dict[tuple[str, str], list[str]] = defaultdict(list)
    for student, tests in digests.items():
        for test, digest in tests.items():
            holders[test, digest].append(student)
    # How common a wrong value is: the hand-ins (a group's members are one) that returned it, or that failed the
    # test with the same message (wrong values to 3 digits: the same bug written in another order rounds
    # differently in the last bits), whichever is more.
    alike: dict[tuple[str, str], set[str]] = defaultdict(set)
    for student, tests in (messages or {}).items():
        for test, message in tests.items():
            alike[test, message].add(groups.get(student, student))
    for (test, _), group in holders.items():
        common = max([len({groups.get(m, m) for m in group})]
                     + [len(alike[test, messages[m][test]]) for m in group if test in (messages or {}).get(m, {})])
        for a, b in itertools.combinations(sorted(group), 2):
            if not together(a, b):
                pairs.setdefault((a, b), Pair(a, b)).shared_values.append((test, common))
    own = own or {}

    def owns(student: str, test: str) -> bool:
        return student not in own or test.split(":", 1)[0] in own[student]

    for p in pairs.values():
        p.code_flag = p.score >= thresholds.code and p.overlap >= thresholds.min_overlap
        p.bugs = tuple(dict.fromkeys(t.split(":", 1)[0] for t in p.rare_values(thresholds.rare)
                                     if owns(p.a, t) and owns(p.b, t)))
        p.values_flag = len(p.bugs) >= thresholds.wrong_values
    ranked = sorted(pairs.values(), key=lambda p: (-p.flagged, -p.score, -len(p.bugs),
                                                   -len(p.rare_values(thresholds.rare)), p.a, p.b))
    # The matched spans only of the pairs report.html shows side by side: kept for all, they would hold
    # hundreds of megabytes in a large class.
    for p in [p for p in ranked if p.listed(thresholds)][:SHOWN]:
        if p.overlap:
            p.slices = match_spans(fingerprints[index[texts[p.a]]], fingerprints[index[texts[p.b]]])[2]
    return ranked


# What the processes of _in_parallel read: set by compare before they fork, so nothing is sent to them.
_SHARED: dict = {}
PARALLEL_FROM = 40  # items (texts, pairs) below which forking processes costs more than it saves


def _in_parallel(work, items: list, jobs: int) -> list:
    """``work(chunk)`` over ``items`` cut into ``jobs`` chunks in forked processes; its results in the items'
    order.  In this process when there are few items, one job, or no ``fork`` (not Linux)."""
    import multiprocessing

    if jobs <= 1 or len(items) < PARALLEL_FROM or "fork" not in multiprocessing.get_all_start_methods():
        return work(items)
    chunks = [items[k::jobs] for k in range(jobs)]  # strided: rows of pairs shorten as they go
    # Pool's exit terminates its processes: a Ctrl-C here stops them at once (they ignore it themselves).
    with multiprocessing.get_context("fork").Pool(jobs, initializer=_quiet_worker) as pool:
        done = pool.map(work, chunks)
    results: list = [None] * len(items)
    for k, part in enumerate(done):
        results[k::jobs] = part
    return results


def _quiet_worker() -> None:
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides what a Ctrl-C means
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # not the parent's handler: Pool's terminate must end it


def _fingerprints(texts: list[str]) -> list[SimpleNamespace]:
    lexer = FileLexer(texts)
    return [_fingerprint(t, _SHARED["thresholds"], _SHARED["boilerplate"], lexer=lexer) for t in texts]


def _code_matches(pairs: list[tuple[int, int]]) -> list[tuple | None]:
    prints, thresholds = _SHARED["fingerprints"], _SHARED["thresholds"]
    return [_code_match(prints[i], prints[j], thresholds) for i, j in pairs]


def _code_match(pa: SimpleNamespace, pb: SimpleNamespace, thresholds: Thresholds) -> tuple | None:
    """``match_spans`` of two fingerprints when the pair reaches the listed share, else None."""
    # A cheap bound first: a pair sharing few fingerprints cannot reach the listed share, and the
    # detailed comparison (matched spans) is what costs time in a class of hundreds.
    shared = len(pa.hashes & pb.hashes)
    if not shared or shared < thresholds.listed / 2 * min(len(pa.hashes), len(pb.hashes)):
        return None
    overlap, sims, _ = match_spans(pa, pb)
    return (overlap, sims) if overlap and max(sims) >= thresholds.listed else None


def group_submissions(records: dict[str, dict]) -> dict[str, str]:
    """student -> the submission (folder or zip) they share with another student: a group hand-in."""
    holders: dict[str, list[str]] = defaultdict(list)
    for student, record in records.items():
        if record.get("kind") in ("folder", "zip") and record.get("source"):
            holders[str(record["source"])].append(student)
    return {s: source for source, members in holders.items() if len(members) > 1 for s in members}


def failure_messages(records: dict[str, dict]) -> dict[str, dict[str, str]]:
    """Student -> failing test -> its first line normalised with the wrong and expected values to 3 digits
    (``clusters.normalise``): students whose bug is the same fail alike, whatever the last bits."""
    return {s: {t["name"]: normalise(t.get("output", ""), values=True) for t in (r.get("results") or {}).get(
        "tests", []) if t["score"] < t["max_score"]} for s, r in records.items() if r.get("status") == "graded"}


def own_failures(records: dict[str, dict]) -> dict[str, set[str]]:
    """Student -> the functions whose failures are their own: failing, with no grader hint putting every failure
    down to another function (``clusters.signatures``)."""
    return {s: {f for f, (_, mine) in signatures(r).items() if mine} for s, r in records.items()}


def load_class(out: Path, config: Config, records: dict[str, dict]
               ) -> tuple[dict[str, str], dict[str, dict[str, str]], dict[str, str]]:
    """From OUTDIR and its ``records`` (``load_records``): student -> graded source text, student -> failing test
    -> value hash, student -> code folder."""
    texts, digests, folders = {}, {}, {}
    for student, record in records.items():
        folder = out / "code" / disk_name(record.get("file", student))
        if folder.is_dir():
            texts[student] = student_text(folder, config.files)
            folders[student] = str(folder.relative_to(out))
        if record.get("status") == "graded" and isinstance(record.get("digests"), dict):
            digests[student] = {str(k): str(v) for k, v in record["digests"].items() if v}
    return texts, digests, folders


def report(out: Path, config: Config, thresholds: Thresholds = Thresholds(), jobs: int = 1
           ) -> tuple[list[Pair], Path]:
    """Compare the class in OUTDIR; write similarity/report.html and similarity/similarity.csv.

    Returns the pairs (flagged first) and the HTML's path.  Students graded before the graded source was
    kept (no ``code/<id>/``) take part through their wrong values only; a regrade brings their code in.
    """
    out = Path(out)
    records = load_records(out)
    texts, digests, folders = load_class(out, config, records)
    pairs = compare(texts, digests, config.templates, config.files, thresholds, jobs,
                    groups=group_submissions(records), own=own_failures(records),
                    messages=failure_messages(records))
    listed = [p for p in pairs if p.listed(thresholds)]
    names = {str(st): str(r.get("name") or "") for st, r in records.items()}  # the LMS's names, where it gave them
    write_text_atomic(out / FOLDER / "similarity.csv", _csv(listed, thresholds, names))
    path = out / FOLDER / "report.html"
    # The report shows students' code side by side: private, as code/ is (similarity.csv holds only scores).
    valued = sum(bool(d) for d in digests.values())  # students with at least one wrong value kept
    write_text_atomic(path, _html(listed, texts, thresholds, config, len(texts), valued, names), mode=0o600)
    return pairs, path


def _csv(pairs: list[Pair], t: Thresholds, names: dict[str, str] | None = None) -> str:
    names = names or {}
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["student_a", "student_b", "flagged", "code_similarity_a", "code_similarity_b", "matched_chars",
                "identical_wrong_values", "rare_identical_wrong_values", "tests", "functions_with_rare_values",
                "name_a", "name_b"])
    for p in pairs:
        why = "+".join(k for k, on in (("code", p.code_flag), ("wrong_values", p.values_flag)) if on)
        w.writerow([spreadsheet_safe(cell) for cell in (
            p.a, p.b, why, f"{p.similarity[0]:.3f}", f"{p.similarity[1]:.3f}", p.overlap, len(p.shared_values),
            len(p.rare_values(t.rare)), "; ".join(t for t, _ in p.shared_values), "; ".join(p.bugs),
            names.get(p.a, ""), names.get(p.b, ""))])
    return buf.getvalue()


# Docstrings, other triple-quoted strings and comments: one placeholder (or nothing) in the compared code, so a
# match that runs across one would mark all of its text; the report leaves them unmarked.
_UNCOMPARED = re.compile(r'"""[\s\S]*?"""|\'\'\'[\s\S]*?\'\'\'|#[^\n]*')
_WORD = re.compile(r"\w")


def shown_spans(text: str, spans) -> list[tuple[int, int]]:
    """The matched spans of ``text`` as report.html marks them: on the code only.

    copydetect's spans (raw character ranges) are cut around docstrings and comments, trimmed of white
    space, and widened to whole words (its offsets can start or end a span inside a name).  Display only:
    the scores count the compared code as copydetect does.
    """
    quiet = [(m.start(), m.end()) for m in _UNCOMPARED.finditer(text)]
    shown = []
    for start, end in zip(*spans):
        start, end = int(start), int(end)
        while 0 < start < len(text) and _WORD.match(text[start - 1]) and _WORD.match(text[start]):
            start -= 1
        while 0 < end < len(text) and _WORD.match(text[end - 1]) and _WORD.match(text[end]):
            end += 1
        pieces, at = [], start
        for q_start, q_end in quiet:
            if q_end <= at or q_start >= end:
                continue
            pieces.append((at, q_start))
            at = max(at, q_end)
        pieces.append((at, end))
        for a, b in pieces:
            while a < b and text[a].isspace():
                a += 1
            while b > a and text[b - 1].isspace():
                b -= 1
            a = max(a, shown[-1][1]) if shown else a  # widened words may reach into the previous span
            if a < b:
                shown.append((a, b))
    return shown


def _marked(text: str, spans) -> str:
    if len(spans) == 0 or len(spans[0]) == 0:
        return html.escape(text)
    parts, at = [], 0
    for start, end in shown_spans(text, spans):
        parts += [html.escape(text[at:start]), "<mark>", html.escape(text[start:end]), "</mark>"]
        at = end
    return "".join(parts) + html.escape(text[at:])


STYLE = """body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse}td,th{border:1px solid #ccc;
padding:3px 8px;text-align:left}.flag{color:#b00;font-weight:bold}.pair{margin:2em 0;border-top:2px solid #444}
.side{display:flex;gap:1em}.side>div{flex:1;min-width:0}pre{background:#f6f6f6;padding:6px;overflow-x:auto;
font-size:12px;max-height:40em}mark{background:#ffd54f}"""


def _html(pairs: list[Pair], texts: dict[str, str], t: Thresholds, config: Config, coded: int, valued: int,
          names: dict[str, str] | None = None) -> str:
    names = names or {}

    def e_who(student: str) -> str:  # the id, and the name when the class download gave one
        return html.escape(f"{student} ({names[student]})" if names.get(student) else student)

    e = html.escape
    flagged = [p for p in pairs if p.flagged]
    rows = []
    for k, p in enumerate(pairs):
        why = " + ".join(w for w, on in (("code", p.code_flag), ("wrong values", p.values_flag)) if on)
        link = f"<a href='#p{k}'>{e_who(p.a)} / {e_who(p.b)}</a>" if k < SHOWN else f"{e_who(p.a)} / {e_who(p.b)}"
        rows.append(f"<tr><td>{link}</td><td class='flag'>{e(why)}</td>"
                    f"<td>{100 * p.similarity[0]:.0f}% / {100 * p.similarity[1]:.0f}%</td><td>{p.overlap}</td>"
                    f"<td>{len(p.rare_values(t.rare))} of {len(p.shared_values)}</td>"
                    f"<td>{e(', '.join(p.bugs))}</td></tr>")
    released = (f"Code released to students (<code>{e(str(config.templates))}</code>) is excluded before comparing."
                if config.templates and Path(config.templates).is_dir() else
                f"<b>No released code is excluded</b>: the templates folder "
                f"(<code>{e(str(config.templates))}</code>, the config's <code>templates:</code>) does not exist, "
                "so code every student was given counts as a match.")
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{e(config.title)}: similarity</title>"
             f"<style>{STYLE}</style></head><body><h1>{e(config.title)}: similar submissions</h1>",
             f"<p>{coded} submissions with graded code, {valued} with wrong values the grader kept a hash of. "
             f"{len(flagged)} pairs flagged, {len(pairs)} listed. {released} A pair is flagged for "
             f"<b>code</b> when at least {100 * t.code:.0f}% of either student's own code (template excluded, "
             f"names and comments ignored) matches the other's in runs of at least {t.noise} characters, "
             f"{t.min_overlap} characters in all; for <b>wrong values</b> when failing tests of at least "
             f"{t.wrong_values} functions returned bit-identical wrong values that at most {t.rare} students of the "
             "class returned, in functions both students fail on their own (one bug repeats its wrong values in "
             "every test it fails and in its callers': it counts once). "
             "This ranks pairs for a person to read; it decides nothing.</p>",
             "<table><tr><th>pair</th><th>flagged</th><th>code matched (of each)</th><th>matched chars</th>"
             "<th>identical wrong values (rare of all)</th><th>functions with rare ones (own failures)</th></tr>",
             *rows, "</table>"]
    if len(pairs) > SHOWN:
        parts.append(f"<p>The {SHOWN} first pairs are shown side by side below; similarity.csv lists all "
                     f"{len(pairs)}.</p>")
    for k, p in enumerate(pairs[:SHOWN]):
        spans = p.slices or ((), ())
        values = "".join(f"<li>{e(test)} (the same value for {n} students)</li>" for test, n in p.shared_values)
        parts.append(f"<div class='pair' id='p{k}'><h2>{e_who(p.a)} and {e_who(p.b)}</h2>"
                     f"<p>Code matched: {100 * p.similarity[0]:.0f}% of {e(p.a)}'s, {100 * p.similarity[1]:.0f}% "
                     f"of {e(p.b)}'s (highlighted).</p>"
                     + (f"<p>Identical wrong values:</p><ul>{values}</ul>" if values else "")
                     + "<div class='side'>"
                     + "".join(f"<div><h3>{e(s)}</h3><pre>{_marked(texts.get(s, ''), spans[i])}</pre></div>"
                               for i, s in enumerate((p.a, p.b)))
                     + "</div></div>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def describe(pairs: list[Pair], path: Path) -> str:
    """One line for the terminal."""
    flagged = [p for p in pairs if p.flagged]
    parts = []
    for label, members in (("code", [p for p in flagged if p.code_flag]),
                           ("identical wrong values", [p for p in flagged if p.values_flag])):
        if members:  # each signal names its own first pairs: one must not hide the other
            top = ", ".join(f"{p.a}/{p.b}" for p in members[:5]) + (" ..." if len(members) > 5 else "")
            parts.append(f"{len(members)} for {label}: {top}")
    return (f"similarity: {len(flagged)} pairs flagged" + (f" ({'; '.join(parts)})" if parts else "")
            + f"; report: {path}")
