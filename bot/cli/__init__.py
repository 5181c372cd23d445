"""The `llm-incident` command line: `main` parses and dispatches, `render` draws an
investigation in the terminal, `checks` is `check-config`.

Commands that need the simulator (`demo`, `simulate`, `investigate --offline`,
`export-scenario`) import it when they run, so the rest works without the `sim` extra.
"""
