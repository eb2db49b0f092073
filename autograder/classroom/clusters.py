"""Students grouped by what they got wrong, and the staff's comments (``comments.yaml``).

A student's signatures are their failed tests per function, each with the grader's message normalised
(``normalise``: paths cut, numbers replaced by # but the wrong and expected values and a factor, to 3
digits, so the output named, the location's kind, the value and the hint remain) and the hint lines the
grader added, but those that point at another function.  Students with the same signature in a function
form a group; groups with the same students (a bug and the functions it breaks) are one cluster: usually
one bug, and a student with two bugs is in two clusters.  Its id is a hash of the signature, so it stays
the same across regrades as long as the bug does.

``comments.yaml`` holds the staff's comments, per student (so a comment survives any regrade, as
overrides do): ``student -> [{text, cluster, when}]``.  ``python -m autograder comment OUTDIR --cluster
ID --text ...`` writes one for each member of the cluster now.  Comments appear in the student's
feedback, in results.json (its output and ``extra_data.comments``) and in grades.csv's note.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from autograder.classroom.gradebook import GradebookError, no_such_student, now, read_edited_mapping, save_edited

_PATH = re.compile(r"(?:/[^\s\"':,()]+)+/([^\s\"':,()/]+)")
_NUMBER = re.compile(r"(?<![A-Za-z_])[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


# The words before a number that is the wrong value itself, the expected one or their ratio (compare.py's
# messages): the same bug gives the same such numbers on the same inputs, another bug other ones.
_VALUE_BEFORE = re.compile(r"(?:got|expected|it is|should be|[\w\]'] is) $")
_SHAPE_BEFORE = re.compile(r"shape \((?:\d+, )*$")  # a shape's numbers: dW of shape (4, 5) is not dW of (5, 4)


# Characters of a normalised message kept (summary.md's tables end a longer one at a word, with an ellipsis).
MESSAGE_LIMIT = 200


def normalise(message: str, values: bool = False) -> str:
    """The failure's first line with paths cut to file names and every number replaced by #; with ``values``
    the wrong value, the expected value and a factor are kept to 3 significant digits, and shapes whole (a
    student's clusters: two bugs failing one test the same way differ there, while line numbers and counts
    still do not split)."""
    first = message.strip().splitlines()[0] if message.strip() else "(no message)"
    first = _PATH.sub(r"\1", first)

    def number(m: re.Match) -> str:
        if values and _VALUE_BEFORE.search(m.string[max(0, m.start() - 12):m.start()]):
            return f"<{float(m.group()):.3g}>"
        if values and _SHAPE_BEFORE.search(m.string[max(0, m.start() - 40):m.start()]):
            return m.group()
        return "#"

    first = _NUMBER.sub(number, first)
    first = re.sub(r"#(?:\s*,\s*#)+", "#, ...", first)
    return first[:MESSAGE_LIMIT]  # part of a cluster's id: a change renames clusters that comments name



COMMENTS = "comments.yaml"
HEADER = ("# Comments from the course staff, shown in each student's feedback and results.json and listed in\n"
          "# grades.csv.  Written by `python -m autograder comment OUTDIR --cluster ID (or --student ID) "
          "--text ...`.\n")


@dataclass
class Cluster:
    id: str
    signature: tuple[tuple[str, str], ...]  # (test name, normalised message) of the bug's function(s)
    members: list[str]
    # Tests its members also fail, alike with the students of other bugs, each put down by the grader to another
    # function (a caller that sees two bugs the same way): not in the signature, so the id stays the bug's.
    echoes: tuple[str, ...] = ()


# The grader's hints that put a failure down to another function ("fix it first", "fix <function> first"): left
# out of a signature, since they depend on the student's other bugs.
_EXPLAINED = re.compile(r"\bfix (?:it|them|[\w.]+) first\b")


def signatures(record: dict, independent: frozenset[str] = frozenset()
               ) -> dict[str, tuple[tuple[tuple[str, str], ...], bool]]:
    """What a graded student got wrong, per function: function -> (its failed tests as (name, normalised message
    and hint lines but those that point at another function), in the config's order; whether any of them is the
    function's own, no hint putting it down to another function).  {} when everything passed or the record has
    no tests.  A function of ``independent`` (one whose tests are questions of their own, a quiz's) has a
    signature per failed test, keyed by the test's name: a wrong answer is one mistake, whatever else is wrong."""
    if record.get("status") != "graded" or not record.get("results"):
        return {}
    found: dict[str, list[tuple[str, str]]] = {}
    own: set[str] = set()
    for t in record["results"]["tests"]:
        if t["score"] < t["max_score"]:
            function = t["name"].split(":", 1)[0]
            function = t["name"] if function in independent else function
            hints = [normalise(line) for line in t["output"].splitlines()[1:]
                     if line.startswith("Hint:") and not _EXPLAINED.search(line)]
            found.setdefault(function, []).append((t["name"], " / ".join([normalise(t["output"], values=True),
                                                                          *hints])))
            if not _EXPLAINED.search(t["output"]):
                own.add(function)
    return {f: (tuple(tests), f in own) for f, tests in found.items()}


def _blamed(tests: list[dict], function: str) -> set[str]:
    """The words of the grader's hints that put ``function``'s failures down to another function (the names)."""
    return {word for t in tests if t["name"].split(":", 1)[0] == function and t["score"] < t["max_score"]
            for line in t["output"].splitlines() if line.startswith("Hint:") and _EXPLAINED.search(line)
            for word in re.findall(r"[\w.]+", line)}


def independent_functions(config) -> frozenset[str]:
    """The functions of ``config`` whose tests are questions of their own (the quiz's kind): one cluster per
    wrong answer, so a comment on one reaches everyone who gave it, whatever else they got wrong."""
    return frozenset(t.function for t in config.tests if t.kind == "quiz")


def cluster_id(sig: tuple[tuple[str, str], ...]) -> str:
    return "c" + hashlib.sha256(repr(sig).encode()).hexdigest()[:6]


def clusters(records: dict[str, dict], independent: frozenset[str] = frozenset()) -> list[Cluster]:
    """Clusters of graded students who failed something, largest first (then by id).

    One per bug: students whose failures in a function are the same form a group, and the groups of one
    function's bug and of the functions it breaks hold the same students, so groups with the same members are
    one cluster (its signatures joined in the config's order).  A student with two bugs is in two clusters,
    whatever else each bug breaks; a file that does not import, or untouched templates, is one cluster.

    A failure the grader puts down to another function (a hint "fix X first") may look like another student's
    own bug: training that never clips fails as training beside a clipping function that never clips does.
    It goes with the student's own failure in a function the hint names whose every holder fails alike here
    too (of several, the one most students hold), not with the students who wrote the bug themselves.  A
    cluster none of whose failures is anyone's own (every one put down to another function) is an echo of bugs
    elsewhere: two bugs seen alike through a caller are not one; its tests are listed as ``echoes`` of each
    cluster whose members all share them.  ``independent``: functions whose tests are questions of their own
    (``signatures``), as ``independent_functions(config)`` names them."""
    found_sigs = {student: signatures(records[student], independent) for student in sorted(records)}
    has = {student: {sig for sig, _ in sigs.values()} for student, sigs in found_sigs.items()}
    holders: dict[tuple, set[str]] = {}
    for student, sigs in has.items():
        for sig in sigs:
            holders.setdefault(sig, set()).add(student)
    # Group keys: (signature, the student's own signature it is put down to, or None).
    groups: dict[tuple, list[str]] = {}
    owned: set[tuple] = set()  # keys some member fails on their own
    order: dict[tuple, int] = {}  # a key's first test's place in its first student's results
    for student, sigs in found_sigs.items():
        tests = (records[student].get("results") or {}).get("tests", [])
        names = [t["name"] for t in tests]
        mine = [sig for sig, own in sigs.values() if own]
        for function, (sig, own) in sigs.items():
            blamed = _blamed(tests, function)
            causes = [] if own else [g for g in mine if g[0][0].split(":", 1)[0] in blamed
                                     and all(sig in has[m] for m in holders[g])]
            causes.sort(key=lambda g: -len(holders[g]))  # the bug whose every holder fails alike here, most of them
            unique = causes and (len(causes) == 1 or len(holders[causes[0]]) > len(holders[causes[1]]))
            key = (sig, causes[0] if unique else None)
            groups.setdefault(key, []).append(student)
            order.setdefault(key, names.index(sig[0][0]))
            if own:
                owned.add(key)
    joined: dict[tuple[str, ...], list[tuple]] = {}
    for key, members in groups.items():
        joined.setdefault(tuple(members), []).append(key)
    found, echoes = [], []
    for members, keys in joined.items():
        if owned.isdisjoint(keys):
            echoes += [(set(members), [name for sig, _ in keys for name, _ in sig])]
            continue
        sig = tuple(test for key in sorted(keys, key=order.__getitem__) for test in key[0])
        found.append(Cluster(cluster_id(sig), sig, list(members)))
    for c in found:
        c.echoes = tuple(dict.fromkeys(name for members, names in echoes if set(c.members) <= members
                                       for name in names))
    return sorted(found, key=lambda c: (-len(c.members), c.id))


# -- comments.yaml -----------------------------------------------------------------------
COMMENT_FIELDS = ("text", "cluster", "when", "submission")


def load_comments(out: Path, records: dict[str, dict] | None = None) -> dict[str, list[dict]]:
    """comments.yaml as student -> [{text, cluster, when}], validated; GradebookError naming the entry.

    Checked as the comment command checks: no key twice (read_edited_mapping), a text that is not empty,
    only the fields the command writes; with ``records`` (load_records) every student must be one of them.
    A student who could not be graded may have comments (e.g. "your zip is broken, resubmit"): their
    feedback shows them.
    """
    path = Path(out) / COMMENTS
    data = read_edited_mapping(path, "student -> list of {text, cluster}")
    comments: dict[str, list[dict]] = {}
    for student, entries in data.items():
        student = str(student)
        if records is not None and student not in records:
            raise GradebookError(f"{path}: {student}: no graded student {student!r} in {path.parent}")
        if not isinstance(entries, list):
            raise GradebookError(f"{path}: {student}: expected a list of {{text: ...}}, found {entries!r}")
        for k, entry in enumerate(entries):
            where = f"{path}: {student} / comment {k + 1}"
            if not isinstance(entry, dict) or not isinstance(entry.get("text"), str) or not entry["text"].strip():
                raise GradebookError(f"{where}: expected {{text: TEXT}} with a text that is not empty, found {entry!r}")
            unknown = [str(key) for key in entry if key not in COMMENT_FIELDS]
            if unknown:
                raise GradebookError(f"{where}: unknown field{'s' * (len(unknown) > 1)} "
                                     f"{', '.join(map(repr, unknown))}; a comment may hold only "
                                     f"{', '.join(COMMENT_FIELDS)}")
            for key in ("cluster", "when", "submission"):
                if not isinstance(entry.get(key, ""), str):
                    raise GradebookError(f"{where}: {key} must be a text, found {entry[key]!r}")
        comments[student] = [dict(e) for e in entries]
    return comments


def _same(entry: dict, text: str, cluster: str | None) -> bool:
    return entry.get("text", "").strip() == text and (entry.get("cluster") or None) == cluster


def add_comment(out: Path, records: dict[str, dict], text: str, *, cluster: str | None = None,
                student: str | None = None, remove: bool = False, independent: frozenset[str] = frozenset()
                ) -> tuple[list[str], list[str]]:
    """Attach ``text`` to each member of ``cluster`` (or to ``student``); with ``remove``, remove that cluster's
    comments from everyone who has one (or all of the student's).

    Returns (the students changed, the students who had this comment already).  Idempotent: a member
    who has the same text from the same cluster (or, for one student, the same text) is not given it
    twice, nor one who has it from another cluster (it is moved to this one: a cluster's id changes when what
    its students got wrong does), so running the same command again reaches only the students who joined the
    cluster since.
    The rest of comments.yaml, people's ``#`` comments included, is left as it is.  GradebookError on a
    bad request.
    """
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    comments = load_comments(out, records)
    if cluster is not None:
        found = {c.id: c for c in clusters(records, independent)}
        if cluster not in found and not remove:
            raise GradebookError(f"no cluster {cluster!r}; summary.md lists them (ids like "
                                 f"{next(iter(found), 'c123abc')!r})")
        carriers = [s for s, entries in comments.items() if any(e.get("cluster") == cluster for e in entries)]
        members = sorted(set(carriers) | set(found[cluster].members)) if remove and cluster in found else \
            (carriers if remove else found[cluster].members)
    elif student is not None:
        if student not in records:
            raise GradebookError(no_such_student(student, records, out))
        members = [student]
    else:
        raise GradebookError("give --cluster ID or --student ID")
    text = text.strip()
    already: list[str] = []
    moved: list[str] = []
    if remove:
        members = [s for s in members if comments.get(s) and (cluster is None or any(
            e.get("cluster") == cluster for e in comments[s]))]
    else:
        if not text:
            raise GradebookError("give a --text: the students see it")
        already = [s for s in members if any(_same(e, text, cluster) for e in comments.get(s, []))]
        # The same text from another cluster (the cluster's id changed with what its students got wrong, a
        # config fixed say): not given twice, but moved to this cluster, where summary.md then shows it.
        moved = [s for s in members if s not in already and cluster is not None
                 and any(e.get("text", "").strip() == text and e.get("cluster") for e in comments.get(s, []))]
        already += moved
        members = [s for s in members if s not in already]
    entry = {"text": text, **({"cluster": cluster} if cluster else {}), "when": now()}

    def update(doc: dict) -> None:
        for s in moved:
            key = next(k for k in doc if str(k) == s)
            for e in doc[key]:
                if str(e.get("text", "")).strip() == text and e.get("cluster"):
                    e["cluster"] = cluster
        for s in members:
            key = next((k for k in doc if str(k) == s), s)
            if remove:
                if key in doc:
                    keep = [e for e in doc[key] if cluster is not None and e.get("cluster") != cluster]
                    doc[key] = CommentedSeq(keep) if keep else None
            else:
                # The submission it was written about (comments_to_review: a student's later work may moot it).
                seen = str(records[s].get("fingerprint") or "")
                doc.setdefault(key, CommentedSeq()).append(CommentedMap({**entry, **({"submission": seen}
                                                                                     if seen else {})}))

    if members or moved:
        save_edited(Path(out) / COMMENTS, HEADER, update)
    return members, already


def comments_to_review(records: dict[str, dict], comments: dict[str, list[dict]]) -> list[dict]:
    """One student's comments (not a cluster's: those say when a student leaves the cluster) written about an
    earlier submission than the one graded now: {student, text, when}.  The student still sees them ("your zip is
    damaged" after a zip that opens): the staff keeps or removes each."""
    found = []
    for student, entries in sorted(comments.items()):
        now_graded = str((records.get(student) or {}).get("fingerprint") or "")
        for e in entries:
            if not e.get("cluster") and e.get("submission") and now_graded and e["submission"] != now_graded:
                found.append({"student": student, "text": e["text"], "when": e.get("when", "")})
    return found
