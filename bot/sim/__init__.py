"""The simulator: incidents played into an emulated AWS, outside the runtime.

Owns the scenario format (`scenario`, its parts `specs`, their value syntax `syntax`),
its expansion into telemetry (`expand`) and the writing of it into an endpoint
(`seeding`), alarms rendered as AWS delivers them (`payloads`), the moto emulator
(`emulator`), a scenario replayed as the bot receives it (`replay`), the demo (`demo`),
an incident exported back to a scenario (`export`), and the loopback fakes the tests and
benchmarks share (`fakes`). It may import anything in `bot` and `tools`; nothing in the
runtime may import it (the import-linter contracts in `pyproject.toml`), so the server,
the container and the Lambda package never load moto.
"""
