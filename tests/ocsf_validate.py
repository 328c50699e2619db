#!/usr/bin/env python3
"""Independent OCSF check: validate every event in auditfed's golden outputs
against the JSON Schema (draft 2020-12) that the `ocsf-json-schema` package
generates for OCSF 1.8.0, with exactly the profiles each event declares.

Usage: ocsf_validate.py GOLDEN_DIR   (exit 0: all valid; 1: invalid events; 2: setup problem)
"""

import json
import pathlib
import sys

try:
    import jsonschema
    from ocsf_json_schema import OcsfJsonSchemaEmbedded, get_ocsf_schema
except ImportError as e:  # the Rust test turns this into a skip or a failure
    print(f"missing Python package: {e.name} (pip install ocsf-json-schema jsonschema)", file=sys.stderr)
    sys.exit(3)


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    schema = OcsfJsonSchemaEmbedded(get_ocsf_schema(version="1.8.0"))
    validators = {}
    events = failures = 0
    for path in sorted(pathlib.Path(sys.argv[1]).rglob("*.golden.json")):
        for i, outcome in enumerate(json.loads(path.read_text())):
            event = outcome.get("event")
            if event is None:
                continue
            events += 1
            profiles = tuple(sorted(event.get("metadata", {}).get("profiles", [])))
            key = (event["class_uid"], profiles)
            if key not in validators:
                name = schema.lookup_class_name_from_uid(class_uid=event["class_uid"])
                class_schema = schema.get_class_schema(class_name=name, profiles=list(profiles))
                jsonschema.Draft202012Validator.check_schema(class_schema)
                validators[key] = jsonschema.Draft202012Validator(
                    class_schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
                )
            errors = sorted(validators[key].iter_errors(event), key=lambda e: list(e.path))
            for err in errors:
                failures += 1
                where = "/".join(str(p) for p in err.path) or "(event)"
                print(f"{path}: outcome #{i}: {where}: {err.message[:300]}")
    print(f"validated {events} events against OCSF 1.8.0 JSON Schemas: {failures} problem(s)")
    if events == 0:
        print("no events found: wrong directory?", file=sys.stderr)
        return 2
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
