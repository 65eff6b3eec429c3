// Package awsenv builds the AWS SDK configuration from environment variables
// only: the region and execution-role credentials the Lambda runtime sets,
// and the SDK's standard AWS_ENDPOINT_URL. It replaces config.LoadDefaultConfig,
// whose shared-config, SSO and IMDS providers a Lambda function never uses
// and which would add about 3 MB to every binary and to its cold start.
// The local runner sets the same variables to point at the emulator, so there
// is no separate code path for local. Where Lambda names an X-Ray daemon
// (Tracing: Active), every SDK call is traced as a subsegment (package xray).
package awsenv

import (
	"errors"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"privacycore/shared/platform/xray"
)

// Config returns the SDK configuration described by getenv.
func Config(getenv func(string) string) (aws.Config, error) {
	region := getenv("AWS_REGION")
	if region == "" {
		region = getenv("AWS_DEFAULT_REGION")
	}
	if region == "" {
		return aws.Config{}, errors.New("awsenv: AWS_REGION is not set")
	}
	id, secret := getenv("AWS_ACCESS_KEY_ID"), getenv("AWS_SECRET_ACCESS_KEY")
	if id == "" || secret == "" {
		return aws.Config{}, errors.New("awsenv: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set")
	}
	cfg := aws.Config{
		Region:      region,
		Credentials: aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(id, secret, getenv("AWS_SESSION_TOKEN"))),
	}
	if ep := getenv("AWS_ENDPOINT_URL"); ep != "" {
		cfg.BaseEndpoint = aws.String(ep)
	}
	xray.Instrument(&cfg, getenv)
	return cfg, nil
}
