package httpapi

import (
	"strconv"

	"github.com/aws/aws-lambda-go/events"

	"privacycore/shared/domain"
)

// Page reads the paging query of a list route: limit (1-100, default def)
// and an opaque cursor from the previous page.
func Page(req events.APIGatewayV2HTTPRequest, def int) (limit int, cursor string, err error) {
	limit = def
	if v, ok := req.QueryStringParameters["limit"]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			return 0, "", domain.Errorf(domain.EInvalid, "invalid_query", "limit must be a whole number from 1 to 100.")
		}
		limit = n
	}
	cursor = req.QueryStringParameters["cursor"]
	if len(cursor) > 512 {
		return 0, "", domain.InvalidCursor()
	}
	return limit, cursor, nil
}
