"""The judged interpreter: what it is (:mod:`~.facts`), finding one for ``--python SPEC`` (:mod:`~.find`), and
starting its child processes (:mod:`~.children`)."""
