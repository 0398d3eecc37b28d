package s3

import (
	"context"
	"fmt"
	"net/http"

	"github.com/minio/minio-go/v7"
)

// Problem is what Check found wrong.
type Problem int

const (
	// Unreachable: the store did not answer (a wrong endpoint, a network
	// or TLS problem).
	Unreachable Problem = iota + 1
	// NoBucket: the bucket does not exist.
	NoBucket
	// BadCredentials: the store refused the access key or its signature.
	BadCredentials
	// WrongRegion: the bucket is in another region than the one given.
	WrongRegion
	// Denied: the credentials are valid but may not list the bucket.
	Denied
	// Other: any other error answer.
	Other
)

// badCredentialCodes are the error codes stores answer an unknown access
// key or a bad signature with (XAdminUserNotFound: versitygw's unknown
// access key).
var badCredentialCodes = map[string]bool{
	"InvalidAccessKeyId":    true,
	"SignatureDoesNotMatch": true,
	"InvalidToken":          true,
	"ExpiredToken":          true,
	"InvalidSecurity":       true,
	"XAdminUserNotFound":    true,
}

// CheckError is what Check returns: the problem, and the store's answer.
type CheckError struct {
	Problem Problem
	Err     error
}

func (e *CheckError) Error() string { return e.Err.Error() }
func (e *CheckError) Unwrap() error { return e.Err }

// Check makes one authenticated request, a listing of at most one key
// under the prefix, and returns a *CheckError saying what is wrong if it
// fails: no bucket, bad credentials, a wrong region. It writes nothing.
func (s *S3) Check(ctx context.Context) error {
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var err error
	for oi := range s.c.ListObjects(lctx, s.bucket, minio.ListObjectsOptions{Prefix: s.prefix, MaxKeys: 1}) {
		err = oi.Err
		break
	}
	if err == nil {
		return nil
	}
	r := minio.ToErrorResponse(err)
	p := Other
	msg := ""
	switch {
	case r.Code == minio.NoSuchBucket:
		p, msg = NoBucket, fmt.Sprintf("bucket %s does not exist (rpmirror never creates buckets)", s.bucket)
	case badCredentialCodes[r.Code]:
		p, msg = BadCredentials, "the store refused the credentials"
	case r.Code == "AuthorizationHeaderMalformed" || r.Code == "PermanentRedirect" || r.Code == "IllegalLocationConstraintException" || r.Code == "InvalidRegion" || r.StatusCode == http.StatusMovedPermanently:
		p, msg = WrongRegion, "the bucket is in another region"
		if r.Region != "" {
			msg = fmt.Sprintf("the bucket is in region %s", r.Region)
		}
	case r.Code == minio.AccessDenied || r.StatusCode == http.StatusForbidden:
		p, msg = Denied, "the credentials may not list the bucket"
	case r.Code == "" && r.StatusCode == 0:
		p, msg = Unreachable, "the store did not answer"
	default:
		msg = "the store refused to list the bucket"
	}
	return &CheckError{Problem: p, Err: fmt.Errorf("%s: %s: %w", s, msg, err)}
}
