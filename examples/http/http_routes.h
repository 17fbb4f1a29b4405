// File: examples/http/http_routes.h
//
// What http_server serves: `/` (a small body), `/burn?us=N` (CPU work), `/sleep?ms=N`
// (a blocking wait reported to the scheduler), 404 for anything else.
#ifndef CONNSCHED_EXAMPLES_HTTP_HTTP_ROUTES_H_
#define CONNSCHED_EXAMPLES_HTTP_HTTP_ROUTES_H_

#include "connsched/protocol.h"
#include "http_request.h"
#include "http_response.h"

namespace http {

/// The response to a complete request. GET and HEAD only (others: 405).
HttpResponse route_request(const HttpRequest& request, connsched::RequestContext& ctx);

}  // namespace http

#endif  // CONNSCHED_EXAMPLES_HTTP_HTTP_ROUTES_H_
