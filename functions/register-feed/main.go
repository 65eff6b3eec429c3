// Command register-feed reads the population register's event feed
// (Persontjenesten, authorised by HelseID) into the notices queue (scheduled).
package main

import "privacycore/shared/wire"

func main() { wire.Start(wire.RegisterFeed) }
