"""The command line's subcommands, one module each: ``HELP`` (its line in ``--help``),
``add_arguments(parser)`` and ``run(args, encoder) -> exit status``. A view's module is named in
its ``e5ui.registry`` entry; ``embed`` and ``serve`` are commands, not views. ``e5ui.__main__``
parses and dispatches; ``common`` holds what they share."""
