package httpapi

import (
	"strconv"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"privacycore/shared/domain"
)

// ETag returns a version as a strong entity tag, for the ETag header.
func ETag(version int64) string { return strconv.Quote(strconv.FormatInt(version, 10)) }

// IfMatch reads an If-Match header holding one strong ETag of a version
// ("3"). An absent header or "*" means no precondition (nil).
func IfMatch(req events.APIGatewayV2HTTPRequest) (*int64, error) {
	v := strings.TrimSpace(Header(req, "If-Match"))
	if v == "" || v == "*" {
		return nil, nil
	}
	bad := domain.Errorf(domain.EInvalid, "invalid_if_match", `If-Match must be one ETag as returned by GET, for example "3".`)
	unq, err := strconv.Unquote(v)
	if err != nil || !strings.HasPrefix(v, `"`) {
		return nil, bad
	}
	n, err := strconv.ParseInt(unq, 10, 64)
	if err != nil || n < 0 {
		return nil, bad
	}
	return &n, nil
}
