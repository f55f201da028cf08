"""URL rules whose URL builders are compiled when a URL is first built from them.

Werkzeug turns every rule into two small Python functions that `url_for` calls
(one for known arguments, one that appends unknown ones as a query), generating
and compiling their source as the rule is added. For CodeB's sixty-odd routes
that was most of `create_app` (33 of its 40 ms on the development machine),
which every fresh process pays (IIS recycles them often), for pages it may
never link to; matching a request to a rule never uses them. Here each builder is compiled the first time it is
called, and is then exactly the function Werkzeug would have made.
"""

from werkzeug.routing import Rule as WerkzeugRule


class Rule(WerkzeugRule):
    def _compile_builder(self, append_unknown: bool = True):
        compile_builder = super()._compile_builder
        compiled = None

        def build(rule, *args, **kwargs):
            # Two threads may both compile it the first time: the same function either way.
            nonlocal compiled
            if compiled is None:
                compiled = compile_builder(append_unknown)
            return compiled(rule, *args, **kwargs)

        return build
