// Listing form: show the chosen category's attribute fields; upload photos
// (drag and drop or file picker) to the photo API with a progress bar each.
(function () {
  "use strict";
  var csrf = document.querySelector('meta[name="csrf-token"]').content;

  // --- category-specific attribute fields ---
  var category = document.getElementById("id_category");
  function showAttributes() {
    document.querySelectorAll(".attrs-group").forEach(function (group) {
      var on = group.dataset.category === category.value;
      group.hidden = !on;
      group.disabled = !on; // disabled fieldsets are not submitted
    });
  }
  if (category) {
    category.addEventListener("change", showAttributes);
    showAttributes();
  }

  // --- photos ---
  var zone = document.getElementById("dropzone");
  if (!zone) return;
  var input = document.getElementById("photo-input");
  var list = document.getElementById("uploads");
  var url = zone.dataset.uploadUrl;

  function removeButton(li, photoId) {
    var button = document.createElement("button");
    button.type = "button";
    button.className = "link";
    button.textContent = zone.dataset.msgRemove;
    button.dataset.remove = photoId;
    li.appendChild(button);
  }

  function upload(file) {
    var li = document.createElement("li");
    var name = document.createElement("span");
    name.textContent = file.name;
    var bar = document.createElement("progress");
    bar.max = 100;
    bar.value = 0;
    bar.setAttribute("aria-label", file.name);
    li.appendChild(name);
    li.appendChild(bar);
    list.appendChild(li);
    var body = new FormData();
    body.append("image", file);
    var xhr = new XMLHttpRequest();
    xhr.open("POST", url);
    xhr.setRequestHeader("X-CSRFToken", csrf);
    xhr.upload.addEventListener("progress", function (e) {
      if (e.lengthComputable) bar.value = Math.round((e.loaded / e.total) * 100);
    });
    xhr.addEventListener("load", function () {
      var data = {};
      try { data = JSON.parse(xhr.responseText); } catch (err) { data = {}; }
      if (xhr.status === 201) {
        li.textContent = "";
        li.dataset.photoId = data.id;
        li.dataset.testid = "uploaded-photo";
        var img = document.createElement("img");
        img.src = data.thumbnail_url || data.url;
        img.alt = file.name;
        li.appendChild(img);
        removeButton(li, data.id);
      } else {
        bar.remove();
        var err = document.createElement("span");
        err.className = "error";
        err.setAttribute("role", "alert");
        err.textContent = zone.dataset.msgFailed + ": " + (data.detail || xhr.status);
        li.appendChild(err);
      }
    });
    xhr.addEventListener("error", function () {
      bar.remove();
      li.appendChild(document.createTextNode(" " + zone.dataset.msgFailed));
    });
    xhr.send(body);
  }

  function uploadAll(files) {
    Array.prototype.forEach.call(files, upload);
  }
  input.addEventListener("change", function () { uploadAll(input.files); input.value = ""; });
  ["dragenter", "dragover"].forEach(function (type) {
    zone.addEventListener(type, function (e) { e.preventDefault(); zone.classList.add("over"); });
  });
  ["dragleave", "drop"].forEach(function (type) {
    zone.addEventListener(type, function (e) { e.preventDefault(); zone.classList.remove("over"); });
  });
  zone.addEventListener("drop", function (e) { uploadAll(e.dataTransfer.files); });

  list.addEventListener("click", function (e) {
    var id = e.target.dataset && e.target.dataset.remove;
    if (!id) return;
    fetch(url + "/" + id, { method: "DELETE", headers: { "X-CSRFToken": csrf }, credentials: "same-origin" })
      .then(function (r) { if (r.ok) e.target.closest("li").remove(); });
  });
})();
