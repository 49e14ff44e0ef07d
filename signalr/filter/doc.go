// Package filter is the OData filter language of Azure SignalR Service's
// 2023-07-01 and later data-plane API (the filter query parameter of
// POST /api/hubs/{hub}/:execute): a parser that reports where and what it
// expected, an evaluator over a connection, and a builder that produces the
// service's syntax with correct quoting.
//
// The grammar is the one Azure Web PubSub documents (MicrosoftDocs/azure-docs
// articles/azure-web-pubsub/reference-odata-filter.md, "Formal grammar"),
// which SignalR Service's :execute takes as well (Azure/azure-signalr
// docs/swagger/V20230701.json, example filter "startswith(userId,
// 'listener-')"):
//
//   - identifiers userId and connectionId (strings; userId is null for an
//     anonymous connection) and groups (the collection of the connection's
//     groups); names are matched case-insensitively;
//   - comparisons eq ne gt ge lt le, the logical operators and, or, not, and
//     parentheses; in with a parenthesised list (userId in ('a','b')) or the
//     collection ('room1' in groups);
//   - the functions startswith, endswith, contains, indexof, length (of a
//     string or of groups), tolower, toupper, trim, substring and concat;
//   - string literals in single quotes with ” standing for one quote,
//     integers with an optional sign, true, false and null.
//
// Precedence, from tightest to loosest: not, comparisons and in, and, or.
// So "not length(userId) gt 5" applies not to length(userId) and is refused
// (write "not (length(userId) gt 5)"), as the service refuses it.
//
// Filters are type-checked when parsed: and, or, not and the whole filter
// take booleans; comparisons take two values of the same type or null;
// groups appears only on the right of in and inside length.
//
// Evaluation follows OData's null rules: a function of null is null (the
// boolean functions are false), eq and ne compare null as a value, gt ge lt
// le with a null operand are false. Values compare ordinally and
// case-sensitively; lengths and indexes count UTF-16 code units, as the
// service's .NET strings do.
package filter
