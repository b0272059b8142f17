"""Getting finished videos to the person: signed download links, the video as an MCP resource, the MCP Apps
player and the local gallery."""
