package imagecache

import (
	"errors"
	"fmt"
)

// fleet is the metadata of a driver that keeps the records of many nodes,
// each under its URL: postgres.
type fleet interface {
	// nodesOf returns the URLs of the nodes that hold a record of id, in
	// order.
	nodesOf(id string) ([]string, error)
	// forgetNode deletes the node url and its records, and returns how
	// many records it had.
	forgetNode(url string) (int, error)
}

// CachedNodes returns the URLs of the nodes whose caches hold the image
// id, in order; this node's is among them when it holds it. It needs a
// driver that keeps many nodes' records (DriverPostgres); other drivers
// return an error matching errors.ErrUnsupported.
func (c *Cache) CachedNodes(id string) ([]string, error) {
	if err := c.check("nodes of", id); err != nil {
		return nil, err
	}
	f, err := c.fleet()
	if err != nil {
		return nil, fmt.Errorf("imagecache: nodes of %s: %w", id, err)
	}
	urls, err := f.nodesOf(id)
	if err != nil {
		return nil, fmt.Errorf("imagecache: nodes of %s: %w", id, err)
	}
	return urls, nil
}

// ForgetNode deletes the records of the node url, one that has left the
// fleet (its files went with it), and the node itself, and returns how
// many records it had; a URL no node has is 0 records. A node that is
// still running must not be forgotten: its commits fail from then on, as
// do this cache's for its own URL, which ForgetNode refuses. It needs a
// driver that keeps many nodes' records (DriverPostgres); other drivers
// return an error matching errors.ErrUnsupported.
func (c *Cache) ForgetNode(url string) (int, error) {
	if err := c.checkOpen("forget node " + url); err != nil {
		return 0, err
	}
	f, err := c.fleet()
	if err != nil {
		return 0, fmt.Errorf("imagecache: forget node %s: %w", url, err)
	}
	n, err := f.forgetNode(url)
	if err != nil {
		return 0, fmt.Errorf("imagecache: forget node %s: %w", url, err)
	}
	return n, nil
}

func (c *Cache) fleet() (fleet, error) {
	if f, ok := c.meta.(fleet); ok {
		return f, nil
	}
	return nil, fmt.Errorf("%w: driver %s keeps the records of one node only", errors.ErrUnsupported, c.driver)
}
