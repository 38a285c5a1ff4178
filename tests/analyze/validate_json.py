#!/usr/bin/python3
"""Validates a JSON document against a JSON Schema (Debian's python3-jsonschema).

  validate_json.py SCHEMA DOCUMENT [--spdx]

--spdx also checks what the SPDX 2.3 specification requires and a JSON Schema cannot say: every
SPDXID unique, every relationship naming elements of the document, the document DESCRIBES what
documentDescribes lists. Exit 0 when valid; 1 with every problem on stderr.
"""
import json
import sys

import jsonschema


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    if len(args) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    with open(args[0]) as f:
        schema = json.load(f)
    with open(args[1]) as f:
        doc = json.load(f)
    validator = jsonschema.Draft7Validator(schema)
    problems = [f"{'/'.join(str(p) for p in e.absolute_path) or '(top)'}: {e.message}"
                for e in validator.iter_errors(doc)]
    if "--spdx" in sys.argv and not problems:
        ids = [p["SPDXID"] for p in doc.get("packages", [])] + [doc["SPDXID"]]
        if len(ids) != len(set(ids)):
            problems.append("SPDXIDs are not unique")
        for r in doc.get("relationships", []):
            for key in ("spdxElementId", "relatedSpdxElement"):
                if r[key] not in ids and r[key] not in ("NONE", "NOASSERTION"):
                    problems.append(f"relationship names unknown element {r[key]}")
        described = {r["relatedSpdxElement"] for r in doc.get("relationships", [])
                     if r["spdxElementId"] == "SPDXRef-DOCUMENT" and r["relationshipType"] == "DESCRIBES"}
        if not described or not set(doc.get("documentDescribes", [])) <= described:
            problems.append("the document DESCRIBES nothing, or not what documentDescribes lists")
    for p in problems:
        print(f"{args[1]}: {p}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
