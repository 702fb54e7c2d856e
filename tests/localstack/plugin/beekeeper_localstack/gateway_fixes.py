"""Two fixes to LocalStack's API Gateway, where it differs from AWS in ways the room depends on. Both are
LocalStack's bugs, fixed here rather than by bending Beekeeper's templates or mappings.

1. Mapping templates get `$input.params().header` as a werkzeug `Headers` object; the template engine
   (airspeed) only knows Java's Map methods for dicts, so `$headers.keySet()` renders as nothing and a
   template that iterates the headers (AWS's own mapping-template reference does, and so does Beekeeper's
   poll-request.vtl, to find every Cookie header whatever its case) sees none. Handed over as a plain dict;
   repeated headers keep the last value, as API Gateway's single-value map does.
2. A static response-parameter value is "a static value enclosed within a pair of single quotes"; LocalStack
   strips every quote at either end (`.strip("'")`), so `'frame-ancestors 'none''` loses the closing quote
   of `'none'` and the header becomes an invalid CSP. Only the enclosing pair is removed.
"""

from localstack.runtime import hooks


@hooks.on_infra_start()
def patch_gateway():
    from localstack.services.apigateway.next_gen.execute_api import parameters_mapping, template_mapping

    original_init = template_mapping.VelocityInput.__init__

    def __init__(self, body, params):
        if params and params.get("header") is not None and not isinstance(params["header"], dict):
            params = dict(params)
            params["header"] = {k: v for k, v in params["header"].items()}
        original_init(self, body, params)

    template_mapping.VelocityInput.__init__ = __init__

    mapper = parameters_mapping.ParametersMapper
    original_static = mapper._retrieve_parameter_from_variables_and_static

    def _retrieve_parameter_from_variables_and_static(self, mapping_value, *args, **kwargs):
        if len(mapping_value) >= 2 and mapping_value.startswith("'") and mapping_value.endswith("'"):
            return mapping_value[1:-1]
        return original_static(self, mapping_value, *args, **kwargs)

    mapper._retrieve_parameter_from_variables_and_static = _retrieve_parameter_from_variables_and_static
