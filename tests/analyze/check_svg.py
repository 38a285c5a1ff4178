#!/usr/bin/python3
"""Checks an SVG written by `keel analyze --svg`: well-formed XML (the standard library's parser),
an <svg> root, and a Graphviz node (<g class="node"><title>NAME</title>) for every NAME given.

  check_svg.py FILE NAME...

Exit 0 when all hold; 1 with what is missing on stderr.
"""
import sys
import xml.etree.ElementTree as ET

NS = "{http://www.w3.org/2000/svg}"


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        root = ET.parse(sys.argv[1]).getroot()
    except ET.ParseError as e:
        print(f"{sys.argv[1]}: not well-formed XML: {e}", file=sys.stderr)
        return 1
    if root.tag != NS + "svg":
        print(f"{sys.argv[1]}: root element is {root.tag}, not svg", file=sys.stderr)
        return 1
    nodes = {g.find(NS + "title").text for g in root.iter(NS + "g")
             if g.get("class") == "node" and g.find(NS + "title") is not None}
    edges = sum(1 for g in root.iter(NS + "g") if g.get("class") == "edge")
    missing = [n for n in sys.argv[2:] if n not in nodes]
    if missing:
        print(f"{sys.argv[1]}: no node for {', '.join(missing)} (nodes: {', '.join(sorted(nodes))})", file=sys.stderr)
        return 1
    print(f"{len(nodes)} nodes, {edges} edges")
    return 0


if __name__ == "__main__":
    sys.exit(main())
