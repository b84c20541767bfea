"""Neo4j graph store: declared model, schema, loader and Cypher-backed analysis."""
