// The asset graph page: lists the assets /api/graph returns (the drawing comes next).
(async () => {
  const main = document.getElementById("graph");
  const data = await (await fetch("/api/graph")).json();
  for (const asset of data.assets) {
    const row = document.createElement("div");
    row.className = "asset " + asset.state;
    row.textContent = `${asset.key}: ${asset.state}`;
    main.appendChild(row);
  }
})();
