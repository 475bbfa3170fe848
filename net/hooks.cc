#include "net/hooks.h"

namespace nexure::net {

std::string_view cause_name(AnswerCause cause) noexcept {
    switch (cause) {
        case AnswerCause::kHandler:
            return "handler";
        case AnswerCause::kFixed:
            return "fixed";
        case AnswerCause::kHook:
            return "hook";
        case AnswerCause::kOptions:
            return "options";
        case AnswerCause::kNoRoute:
            return "no-route";
        case AnswerCause::kMethodNotAllowed:
            return "method-not-allowed";
        case AnswerCause::kNotImplemented:
            return "not-implemented";
        case AnswerCause::kBadRequest:
            return "bad-request";
        case AnswerCause::kUriTooLong:
            return "uri-too-long";
        case AnswerCause::kHeaderFieldsTooLarge:
            return "header-fields-too-large";
        case AnswerCause::kBodyTooLarge:
            return "body-too-large";
        case AnswerCause::kExpectationFailed:
            return "expectation-failed";
        case AnswerCause::kVersionNotSupported:
            return "version-not-supported";
        case AnswerCause::kRequestTimeout:
            return "request-timeout";
        case AnswerCause::kHandlerError:
            return "handler-error";
        case AnswerCause::kHandlerTimeout:
            return "handler-timeout";
        case AnswerCause::kUnavailable:
            return "unavailable";
    }
    return "unknown";
}

AnswerCause refusal_cause(int status) noexcept {
    switch (status) {
        case 408:
            return AnswerCause::kRequestTimeout;
        case 413:
            return AnswerCause::kBodyTooLarge;
        case 414:
            return AnswerCause::kUriTooLong;
        case 417:
            return AnswerCause::kExpectationFailed;
        case 431:
            return AnswerCause::kHeaderFieldsTooLarge;
        case 501:
            return AnswerCause::kNotImplemented;
        case 503:
            return AnswerCause::kUnavailable;
        case 505:
            return AnswerCause::kVersionNotSupported;
        default:
            return AnswerCause::kBadRequest;
    }
}

}  // namespace nexure::net
