"""``lrspec compile SPEC --target T [--model SOURCE] [--emit python]``.

Without ``--model`` the spec is validated and its groups shown. With ``--model`` the SOURCE
(:mod:`lrspec.tools.model_sources`) gives the parameter names: a parameter list or a model
file is resolved and the plan shown; a live model must be one target ``T`` accepts
(:meth:`lrspec.targets.Target.accepts`), is listed with ``T``'s
:meth:`~lrspec.targets.Target.parameters` and compiled with ``T``, and the optimizer that was
built is named. ``--emit python`` writes the module :func:`lrspec.tools.emit.emit_python` makes.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, TextIO

from lrspec.errors import LrSpecError, TargetError
from lrspec.tools.cli.common import check_target, json_text, load_spec, resolve, write_output
from lrspec.tools.cli.errors import EXIT_OK, UsageError, UserError, located

__all__ = ["built_line", "cmd_compile", "public_name"]


def _model_plan(args: argparse.Namespace) -> tuple[Any, Any, Any, Any]:
    """(spec, plan, source, compiled-or-None) for ``compile --model``."""
    from lrspec.targets import get_target
    from lrspec.tools import model_sources

    spec = load_spec(args.spec)
    source = model_sources.open_source(args.model, args.target)
    if source.model is None:
        return spec, resolve(spec, source.params, args.spec), source, None
    where_target = f"--target {args.target}"
    with located(where_target, TargetError):
        target = get_target(args.target)
    with located(args.model):
        try:
            params = target.parameters(source.model)
        except LrSpecError:
            raise
        except Exception as exc:
            raise UserError(args.model, f"cannot list the model's parameters: {type(exc).__name__}: {exc}") from None
    plan = resolve(spec, params, args.spec)
    compiled = None
    if args.emit is None:
        with located(where_target):
            try:
                compiled = target.compile(plan, source.model)
            except LrSpecError:
                raise
            except Exception as exc:
                raise UserError(where_target, f"compiling the plan failed: {type(exc).__name__}: {exc}") from None
    return spec, plan, source, compiled


def public_name(cls: type) -> str:
    """``module.Class`` with the module shortened to the highest package that exports the
    class itself (``torch.optim.adam.Adam`` -> ``torch.optim.Adam``; lazily exported names,
    which are not in the package's namespace, keep their defining module)."""
    module = cls.__module__
    while "." in module:
        parent = module.rpartition(".")[0]
        namespace = vars(sys.modules[parent]) if parent in sys.modules else {}
        if namespace.get(cls.__name__) is not cls:
            break
        module = parent
    return f"{module}.{cls.__qualname__}"


def built_line(target: str, plan: Any, compiled: Any) -> str:
    """The last line of ``compile --model``: what was (or will be) built."""
    optimizer = getattr(compiled, "optimizer", None) if compiled is not None else None
    n = len(plan.trainable_groups)
    groups = f"{n} optimizer group{'s' if n != 1 else ''}"
    if optimizer is not None:
        return f"built: {public_name(type(optimizer))} with {groups}"
    if compiled is not None:
        return f"built: {type(compiled).__qualname__} with {groups}"
    return f"will build: one {target} optimizer group per group not frozen for good ({n})"


def cmd_compile(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Validate SPEC for a target; with --model, resolve and show the plan (or emit code)."""
    from lrspec.tools.explain import plan_json, plan_table, spec_json, spec_table

    check_target(args.target, "lrspec compile")
    if args.emit is not None and args.model is None:
        raise UsageError("lrspec compile: --emit python needs --model (the generated code names every parameter)")
    if args.model is None:
        spec = load_spec(args.spec)
        if args.format == "json":
            text = json_text(spec_json(spec, command="compile", spec=args.spec, target=args.target))
        else:
            text = f"{args.spec}: valid; target {args.target} (no --model: showing the spec's groups)\n\n{spec_table(spec)}\n"
        write_output(text, args.output, args.force, out)
        return EXIT_OK
    spec, plan, source, compiled = _model_plan(args)
    if args.emit is not None:
        from lrspec.tools.emit import emit_python

        with located(f"--target {args.target}", TargetError):
            code = emit_python(plan, args.target, spec_path=args.spec, source=args.model)
        write_output(code, args.output, args.force, out)
        if args.output not in (None, "-"):
            err.write(f"wrote {args.output} ({args.target}; entry point build(model))\n")
        return EXIT_OK
    if args.format == "json":
        doc = plan_json(plan, command="compile", spec=args.spec, target=args.target, model=args.model, source_kind=source.kind)
        text = json_text(doc)
    else:
        head = f"{args.spec} -> {args.target}, model {args.model} ({source.kind}, {len(plan.names)} parameters)"
        text = f"{head}\n\n{plan_table(plan)}\n\n{built_line(args.target, plan, compiled)}\n"
    write_output(text, args.output, args.force, out)
    return EXIT_OK
