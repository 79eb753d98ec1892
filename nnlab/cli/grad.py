"""`nnlab grad`: the value, gradient, Hessian, higher derivatives and backward graph of an expression."""

import typer

from nnlab.cli.main import command, print_json, stdout


@command
def grad(
    expression: str = typer.Argument(..., help="An expression in x, y, ...: numbers, + - * / **, parentheses and "
                                               "exp log sin cos tanh sigmoid relu sqrt abs sum mean linspace.",
                                     show_default=False),
    assignments: list[str] = typer.Argument(None, help="VAR=VALUE for every variable: x=2, 'm=[1,2,3]', "
                                                       "'m=linspace(-10,10,100)'.", show_default=False),
    wrt: str = typer.Option(None, "--wrt", help="Differentiate by these variables only (comma-separated); the "
                                                "others are constants. Default: every variable, in the order given."),
    hessian: bool = typer.Option(False, "--hessian", help="Also print the matrix of second derivatives."),
    order: int = typer.Option(None, "--order", help="Also print derivatives of order 1..N (one variable)."),
    graph: bool = typer.Option(False, "--graph", help="Also print the backward graph (grad_fn nodes)."),
    json_out: bool = typer.Option(False, "--json", help="Print only a JSON object on stdout."),
):
    """Differentiate an expression with torch.autograd.

    In float64, at the values given.

    \b
    Example:
      nnlab grad "2*x**3 + 3*y**2 + c" x=2 y=3 c=1 --hessian
    An expression that starts with a minus goes after --:
      nnlab grad -- "-x**2" x=3
    """
    from nnlab.autograd.expr import check_variables, parse, parse_assignments

    expr = parse(expression)  # checked before torch is imported: bad input is refused at once
    values = parse_assignments(list(assignments or []))
    check_variables(expr, values)
    wrt_names = [name.strip() for name in wrt.split(",") if name.strip()] if wrt is not None else None

    from nnlab.autograd.derivatives import bind, differentiate
    from nnlab.autograd.graph import backward_tree, collapse

    bound = bind(expr, values, wrt_names)
    result = differentiate(bound, hessian=hessian, order=order)
    tree = None
    if graph:
        grad_fn = bound.output.grad_fn
        names = {id(bound.inputs[name]): name for name in bound.wrt}
        tree = collapse(backward_tree(grad_fn, names)) if grad_fn is not None else None
    if json_out:
        print_json({**result.to_dict(), **({"graph": tree.to_dict() if tree else None} if graph else {})})
        return
    from nnlab.autograd.report import grad_report

    console = stdout()
    console.print(grad_report(expression, list(assignments or []), result, tree), soft_wrap=True)  # long vectors
    if graph and tree is None:
        console.print("backward graph: none (the value does not depend on a variable being differentiated)")
