#!/usr/bin/env python3
"""Compare spamhattan's Office analysis with oletools (PyPI oletools==0.60.2).

For every file under the given directories, runs `spamhattan analyze --object FILE` (or the
command given with --analyzer; it must print one JSON report on its first stdout line) and the
oletools functions behind the command-line tools, in this process:

  macros   VBA macros present        olevba  VBA_Parser.detect_vba_macros()
  mraptor  mraptor flags (A/W/X)     mraptor MacroRaptor(get_vba_code_all_modules())
  autoexec AutoExec keyword set      olevba  analyze_macros() rows of type AutoExec
  xlm      Excel 4 macros present    olevba  detect_xlm_macros()
  dde      DDE links present         msodde  process_maybe_encrypted(FIELD_FILTER_DDE)
  embedded embedded files present    oleobj  \\x01Ole10Native packages; rtfobj objects for RTF
  external external relationships    oleobj  find_external_relationships(), active types only

The Python API is used instead of parsing the tools' text output: it is the same code and
gives structured answers. spamhattan's side aggregates the file and all its child artefacts
(oletools also descends into zip containers and embedded OLE files).

Prints a table and exits 1 when a disagreement is not explained in oletools_known.md
(lines `- `glob` | column | why`). Install: `pip install oletools==0.60.2`.
"""

import argparse
import contextlib
import fnmatch
import io
import json
import logging
import os
import re
import shlex
import subprocess
import sys
import tempfile

COLUMNS = ["macros", "mraptor", "autoexec", "xlm", "dde", "embedded", "external"]

# oleobj's list minus types that load nothing when the document opens (hyperlinks) or that
# spamhattan keeps as URLs without flagging; see oletools_known.md.
ACTIVE_RELATIONSHIPS = {
    "attachedTemplate", "oleObject", "frame", "subDocument", "externalLinkPath", "externalLink",
}


def ours(analyzer, path):
    """spamhattan's answers for one file, aggregated over all artefacts."""
    cmd = shlex.split(analyzer) + [path]
    out = subprocess.run(cmd, capture_output=True, timeout=120, check=False).stdout
    line = out.decode("utf-8", "replace").split("\n", 1)[0]
    report = json.loads(line)
    result = dict(macros=False, mraptor="", autoexec=set(), xlm=False, dde=False,
                  embedded=False, external=False)
    for artifact in report.get("artifacts", []):
        office = artifact.get("office")
        if not office:
            continue
        if office.get("vba"):
            result["macros"] = True
            result["mraptor"] = result["mraptor"] or office.get("mraptor", "")
        for k in office.get("keywords", []):
            if k["kind"] == "AutoExec":
                result["autoexec"].add(k["keyword"].lower())
        result["xlm"] |= bool(office.get("xlm_macros"))
        result["dde"] |= bool(office.get("dde"))
        result["embedded"] |= bool(office.get("embedded_objects"))
        result["external"] |= bool(office.get("external_targets"))
    return result


def theirs(path):
    """oletools' answers for one file."""
    from oletools import msodde, oleobj, olevba, rtfobj, ooxml
    from oletools.mraptor import MacroRaptor

    result = dict(macros=False, mraptor="", autoexec=set(), xlm=False, dde=False,
                  embedded=False, external=False)
    sink = io.StringIO()
    with contextlib.redirect_stdout(sink):
        try:
            vp = olevba.VBA_Parser(path)
        except Exception:
            vp = None
        if vp is not None:
            try:
                result["macros"] = bool(vp.detect_vba_macros())
                result["xlm"] = bool(vp.detect_xlm_macros())
                if result["macros"]:
                    raptor = MacroRaptor(vp.get_vba_code_all_modules())
                    raptor.scan()
                    result["mraptor"] = raptor.get_flags()
                for kind, keyword, _ in vp.analyze_macros() or []:
                    if kind == "AutoExec":
                        result["autoexec"].add(keyword.lower())
            except Exception:
                pass
            finally:
                vp.close()
        try:
            text = msodde.process_maybe_encrypted(
                path, field_filter_mode=msodde.FIELD_FILTER_DDE)
            result["dde"] = bool(text and text.strip())
        except Exception:
            pass
        with open(path, "rb") as f:
            data = f.read()
        if data.lstrip()[:5] == b"{\\rtf":
            parser = rtfobj.RtfObjParser(data)
            parser.parse()
            result["embedded"] = any(o.is_ole and o.oledata for o in parser.objects)
        else:
            try:
                xml_parser = ooxml.XmlParser(path)
                result["external"] = any(
                    rel in ACTIVE_RELATIONSHIPS
                    for rel, _ in oleobj.find_external_relationships(xml_parser))
            except Exception:
                xml_parser = None
            try:
                for ole in oleobj.find_ole(path, data, xml_parser):
                    if ole is None:
                        continue
                    for parts in ole.listdir():
                        if parts[-1].lower() == "\x01ole10native":
                            result["embedded"] = True
            except Exception:
                pass
    return result


def load_known(path):
    known = []
    if not os.path.exists(path):
        return known
    for line in open(path, encoding="utf-8"):
        m = re.match(r"^- `([^`]+)` \| (\w+) \|", line)
        if m:
            known.append((m.group(1), m.group(2)))
    return known


def show(v):
    if isinstance(v, set):
        return ",".join(sorted(v)) or "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    return v or "-"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dirs", nargs="+")
    ap.add_argument("--analyzer", default="spamhattan analyze --object",
                    help="command printing one JSON report for the file appended to it")
    ap.add_argument("--known", default=os.path.join(os.path.dirname(__file__),
                                                     "oletools_known.md"))
    args = ap.parse_args()
    logging.disable(logging.CRITICAL)
    known = load_known(args.known)
    files = []
    for d in args.dirs:
        if os.path.isfile(d):
            files.append((os.path.dirname(d) or ".", d))
        for root, _, names in os.walk(d):
            files.extend((d, os.path.join(root, n)) for n in sorted(names))
    agree = 0
    unexplained = 0
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)  # oleobj/olevba never write here, but keep any stray output contained
        for top, path in files:
            try:
                a = ours(args.analyzer, os.path.abspath(path))
            except Exception as e:
                rows.append((path, "analyzer", f"error: {e}", "", "UNEXPLAINED"))
                unexplained += 1
                continue
            b = theirs(os.path.abspath(path))
            for col in COLUMNS:
                if a[col] == b[col]:
                    agree += 1
                    continue
                # Patterns are relative to the directory given on the command line.
                rel = os.path.relpath(path, top)
                explained = any(
                    c == col and (fnmatch.fnmatch(rel, g) or fnmatch.fnmatch(path, g))
                    for g, c in known)
                status = "known" if explained else "UNEXPLAINED"
                unexplained += 0 if explained else 1
                rows.append((rel, col, show(a[col]), show(b[col]), status))
    print(f"{len(files)} files, {agree} agreements, {len(rows)} disagreements "
          f"({unexplained} unexplained)")
    if rows:
        print(f"{'file':60} {'column':9} {'spamhattan':24} {'oletools':24} status")
        for r in rows:
            print(f"{r[0][:60]:60} {r[1]:9} {r[2][:24]:24} {r[3][:24]:24} {r[4]}")
    sys.exit(1 if unexplained else 0)


if __name__ == "__main__":
    main()
