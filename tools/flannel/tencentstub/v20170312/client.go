// Package v20170312 is a stub for the one Tencent Cloud VPC API version flannel's tencent-vpc backend
// imports (pkg/backend/tencentvpc/tencentvpc.go). The real SDK module is not served by the Go module proxy,
// and the test bed never selects that backend, so every call fails with ErrStub instead of reaching Tencent.
// It declares only what tencentvpc.go uses.
package v20170312

import "errors"

// ErrStub is returned by every API call of this stub.
var ErrStub = errors.New("tencent-vpc backend is not available: this flanneld was built with a stub Tencent Cloud SDK")

// Client stands in for the SDK's VPC client.
type Client struct{}

// NewClientWithSecretId returns a client whose calls all fail with ErrStub.
func NewClientWithSecretId(secretId, secretKey, region string) (*Client, error) {
	return &Client{}, nil
}

// Filter is a DescribeRouteTables filter.
type Filter struct {
	Name   *string
	Values []*string
}

// Route is one route of a route table.
type Route struct {
	DestinationCidrBlock *string
	GatewayType          *string
	GatewayId            *string
	RouteId              *uint64
	Enabled              *bool
	RouteType            *string
}

// RouteTable is a VPC route table.
type RouteTable struct {
	RouteTableId *string
	RouteSet     []*Route
}

type DescribeRouteTablesRequest struct {
	Filters []*Filter
}

func NewDescribeRouteTablesRequest() *DescribeRouteTablesRequest {
	return &DescribeRouteTablesRequest{}
}

type DescribeRouteTablesResponse struct {
	Response *struct {
		RouteTableSet []*RouteTable
		RequestId     *string
	}
}

func (c *Client) DescribeRouteTables(request *DescribeRouteTablesRequest) (*DescribeRouteTablesResponse, error) {
	return nil, ErrStub
}

type DeleteRoutesRequest struct {
	RouteTableId *string
	Routes       []*Route
}

func NewDeleteRoutesRequest() *DeleteRoutesRequest { return &DeleteRoutesRequest{} }

type DeleteRoutesResponse struct{}

func (c *Client) DeleteRoutes(request *DeleteRoutesRequest) (*DeleteRoutesResponse, error) {
	return nil, ErrStub
}

type CreateRoutesRequest struct {
	RouteTableId *string
	Routes       []*Route
}

func NewCreateRoutesRequest() *CreateRoutesRequest { return &CreateRoutesRequest{} }

type CreateRoutesResponse struct{}

func (c *Client) CreateRoutes(request *CreateRoutesRequest) (*CreateRoutesResponse, error) {
	return nil, ErrStub
}
