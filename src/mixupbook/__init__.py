"""mixupbook: the shared library of the mixup theory book.

Concept modules (see the book's notation page and DESIGN.md section 2): ``lam``
(lambda laws), ``mixing``, ``losses``, ``methods`` (objectives registry), ``data``,
``models``, ``train`` (``fit``), ``experiment`` (config -> record), ``results``,
``plots``.
"""
__version__ = "0.1.0"
