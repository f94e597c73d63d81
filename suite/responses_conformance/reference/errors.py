"""OpenAI-style HTTP errors: the `{"error": {message, type, param, code}}` envelope."""

from __future__ import annotations

from typing import Any

INVALID_REQUEST = "invalid_request_error"


class ApiError(Exception):
    """An error answered as an HTTP status and the OpenAI error envelope."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = INVALID_REQUEST,  # noqa: A002 - the envelope's own key name
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code
        self.headers = dict(headers or {})

    def envelope(self) -> dict[str, Any]:
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }


def mask_key(key: str) -> str:
    """Mask an API key for an error message, the way OpenAI does.

    At most the first 4 and the last 3 characters stay visible, and only for keys longer
    than 12 characters; shorter keys are masked completely.
    """
    if len(key) > 12:
        return f"{key[:4]}{'*' * 3}{key[-3:]}"
    return "*" * 3


def missing_api_key() -> ApiError:
    return ApiError(
        401,
        "You didn't provide an API key. You need to provide your API key in an Authorization "
        "header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY). The reference "
        "server's key is printed when it starts.",
    )


def incorrect_api_key(key: str) -> ApiError:
    return ApiError(
        401,
        f"Incorrect API key provided: {mask_key(key)}. The reference server accepts only "
        "the key it was started with.",
        code="invalid_api_key",
    )


def invalid_json() -> ApiError:
    return ApiError(
        400,
        "We could not parse the JSON body of your request. (HINT: This likely means you "
        "aren't using your HTTP library correctly. The API expects a JSON payload, but what "
        "was sent was not valid JSON.)",
    )


def not_an_object(got: str) -> ApiError:
    return ApiError(
        400,
        f"Invalid type for request body: expected an object, but got {got} instead.",
        code="invalid_type",
    )


def missing_parameter(param: str) -> ApiError:
    return ApiError(
        400,
        f"Missing required parameter: '{param}'.",
        param=param,
        code="missing_required_parameter",
    )


def invalid_type(param: str, expected: str, value: Any) -> ApiError:
    return ApiError(
        400,
        f"Invalid type for '{param}': expected {expected}, but got {type_name(value)} instead.",
        param=param,
        code="invalid_type",
    )


def invalid_value(param: str, value: Any, supported: list[str]) -> ApiError:
    listed = ", ".join(f"'{s}'" for s in supported[:-1])
    listed = f"{listed}, and '{supported[-1]}'" if len(supported) > 1 else f"'{supported[0]}'"
    return ApiError(
        400,
        f"Invalid value: '{value}'. Supported values are: {listed}.",
        param=param,
        code="invalid_value",
    )


def out_of_range(param: str, value: Any, *, minimum: Any = None, maximum: Any = None) -> ApiError:
    kind = "integer" if isinstance(value, int) else "decimal"
    if minimum is not None and value < minimum:
        what, bound, rel = "below minimum", minimum, ">="
        code = f"{kind}_below_min_value"
    else:
        what, bound, rel = "above maximum", maximum, "<="
        code = f"{kind}_above_max_value"
    return ApiError(
        400,
        f"Invalid '{param}': {kind} {what} value. Expected a value {rel} {bound}, "
        f"but got {value} instead.",
        param=param,
        code=code,
    )


def unknown_parameter(param: str) -> ApiError:
    return ApiError(400, f"Unknown parameter: '{param}'.", param=param, code="unknown_parameter")


def unsupported_parameter(param: str, why: str) -> ApiError:
    return ApiError(
        400, f"Unsupported parameter: '{param}' {why}", param=param, code="unsupported_parameter"
    )


def model_not_found(model: str) -> ApiError:
    return ApiError(
        400,
        f"The requested model '{model}' does not exist.",
        param="model",
        code="model_not_found",
    )


def previous_response_not_found(response_id: str) -> ApiError:
    return ApiError(
        400,
        f"Previous response with id '{response_id}' not found.",
        param="previous_response_id",
        code="previous_response_not_found",
    )


def tool_call_not_found(call_id: str) -> ApiError:
    return ApiError(
        400,
        f"No tool call found for function call output with call_id {call_id}.",
        param="input",
    )


def tool_choice_not_found(name: str) -> ApiError:
    return ApiError(
        400,
        f"Tool choice 'function' with name '{name}' not found in 'tools' parameter.",
        param="tool_choice",
        code="invalid_value",
    )


def tool_choice_without_tools() -> ApiError:
    return ApiError(
        400,
        "Tool choice 'required' must be specified with at least one function in 'tools'.",
        param="tool_choice",
        code="invalid_value",
    )


def invalid_json_schema(name: str, got: Any) -> ApiError:
    return ApiError(
        400,
        f"Invalid schema for response_format '{name}': schema must be a JSON Schema of "
        f"'type: \"object\"', got 'type: \"{got}\"'.",
        param="text.format.schema",
        code="invalid_json_schema",
    )


#: The in-band failure (FAIL_MIDSTREAM): what the `error` event and `response.error` carry.
SERVER_ERROR_MESSAGE = (
    "The server had an error while processing your request. Sorry about that! "
    "(scripted failure: FAIL_MIDSTREAM)"
)


def stream_error_event(message: str = SERVER_ERROR_MESSAGE) -> dict[str, Any]:
    """OpenAI's wire shape of a mid-stream `error` event (also Open Responses'): nested, with
    all of type, code, message and param."""
    return {
        "type": "error",
        "error": {"type": "server_error", "code": "server_error", "message": message,
                  "param": None},
    }


def response_not_found(response_id: str) -> ApiError:
    return ApiError(404, f"No response found with id '{response_id}'.")


def type_name(value: Any) -> str:
    """How OpenAI's validation messages name a JSON value's type."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a decimal"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return "an unknown type"  # pragma: no cover - json.loads yields only the above
