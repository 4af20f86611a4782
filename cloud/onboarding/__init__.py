"""Onboarding of SME sites: broker access (credentials, ACLs, TLS), starter kits, the onboarding record, AAS."""
