// Command sector serves the health sector's systems: decisions on health
// personnel's access and the settings as FHIR R4 Consent resources.
package main

import "privacycore/shared/wire"

func main() { wire.Start(wire.SectorAPI) }
