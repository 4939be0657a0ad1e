// A stub of github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/vpc, which the Go module proxy does not
// serve. flannel's tencent-vpc backend (pkg/backend/tencentvpc) imports it; that backend is never used here.
module github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/vpc

go 1.24.0
