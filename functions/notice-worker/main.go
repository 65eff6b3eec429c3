// Command notice-worker consumes the population register's notices.
package main

import "privacycore/shared/wire"

func main() { wire.Start(wire.NoticeWorker) }
