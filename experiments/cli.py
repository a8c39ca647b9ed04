"""The ``labrun`` command line."""

from __future__ import annotations

import argparse
import sys

from labrun.drivers import MODELS, LabrunError, list_resources, open_sourcemeter


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="labrun", description="Drive lab source-meters.")
    sub = parser.add_subparsers(dest="command", required=True)
    res = sub.add_parser("resources", help="list VISA resources")
    res.add_argument("--sim", action="store_true", help="list the simulated bench")
    res.add_argument("--backend", default="", help="VISA library, e.g. @ivi or @py")
    meas = sub.add_parser("measure", help="source one voltage and take one reading")
    meas.add_argument("model", choices=sorted(MODELS))
    meas.add_argument("address")
    meas.add_argument("--voltage", type=float, default=1.0)
    meas.add_argument("--compliance", type=float, default=0.01, help="current limit in A")
    meas.add_argument("--sim", action="store_true")
    meas.add_argument("--backend", default="")
    args = parser.parse_args(argv)
    try:
        if args.command == "resources":
            for name in list_resources("@labrun" if args.sim else args.backend):
                print(name)
            return 0
        with open_sourcemeter(args.model, args.address, sim=args.sim, backend=args.backend) as smu:
            print(smu.identify())
            smu.set_current_limit(args.compliance)
            smu.set_voltage(args.voltage)
            smu.output_on()
            reading = smu.measure()
            smu.shutdown()
            print(f"V = {reading.voltage:.6g} V   I = {reading.current:.6g} A")
        return 0
    except LabrunError as error:
        print(f"labrun: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
