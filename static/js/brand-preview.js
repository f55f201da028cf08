// The Branding page's live preview: a small sign-in card (light and dark) and a mail header that
// follow the colour, logo and mail texts as the admin picks them, with the contrast measured the
// way the server measures it (codeb.tenants.branding: WCAG 2.x, 4.5:1, dark shade mixed toward
// white in 5 % steps). Only a preview: the server checks everything again when the form is saved.
const preview = document.getElementById("brand-preview");
const form = document.getElementById("brand-form");

const AA = 4.5;
const LIGHT = ["#ffffff", "#f5f7fa"];
const DARK = ["#10141a", "#1b212a"];
const DARK_INKS = ["#0b1a33", "#10141a", "#ffffff"];
const PREVIEWABLE = ["image/png", "image/jpeg", "image/webp"];

function rgb(hex) {
  const n = parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

function luminance(hex) {
  const [r, g, b] = rgb(hex).map((v) => {
    const c = v / 255;
    return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

function contrast(a, b) {
  const [x, y] = [luminance(a), luminance(b)].sort((p, q) => q - p);
  return (x + 0.05) / (y + 0.05);
}

function worst(colour, surfaces) {
  return Math.min(...surfaces.map((s) => contrast(colour, s)));
}

function mix(colour, share) {
  return "#" + rgb(colour).map((v) => Math.round(v + (255 - v) * share).toString(16).padStart(2, "0")).join("");
}

function darkShade(colour) {
  for (let step = 0; step <= 20; step += 1) {
    const candidate = mix(colour, step / 20);
    if (worst(candidate, DARK) >= AA) return candidate;
  }
  return null;
}

function fill(text, values) {
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in values ? values[name] : whole));
}

const numbers = new Intl.NumberFormat(preview ? preview.dataset.lang : "en", {
  minimumFractionDigits: 2, maximumFractionDigits: 2,
});
const ratio = (value) => numbers.format(Math.floor(value * 100) / 100);

function showColour(colour) {
  const status = document.getElementById("preview-contrast");
  const light = worst(colour, LIGHT);
  const dark = darkShade(colour);
  const ink = dark && DARK_INKS.find((candidate) => contrast(dark, candidate) >= AA);
  const ok = light >= AA && dark && ink;
  // The swatch always shows the picked colour; the sample card and mail take it only when it
  // passes (unreadable sample text would be exactly the barrier the check refuses).
  preview.style.setProperty("--preview-swatch", colour);
  if (ok) {
    preview.style.setProperty("--preview-accent", colour);
    preview.style.setProperty("--preview-dark-accent", dark);
    preview.style.setProperty("--preview-dark-ink", ink);
  }
  preview.dataset.contrast = ok ? "ok" : "low";
  if (light < AA) {
    status.textContent = fill(preview.dataset.contrastLow, { ratio: ratio(light), needed: numbers.format(AA) });
  } else if (!ok) {
    status.textContent = preview.dataset.contrastDark;
  } else {
    status.textContent = fill(preview.dataset.contrastOk, { ratio: ratio(light), dark });
  }
}

function showLogo(file) {
  const logos = preview.querySelectorAll(".preview-logo");
  if (!file) return;
  if (!PREVIEWABLE.includes(file.type)) {
    document.getElementById("preview-contrast").textContent = preview.dataset.notImage;
    return;
  }
  const reader = new FileReader();
  reader.addEventListener("load", () => {
    // A data: URL (the page's CSP allows `img-src 'self' data:`, not blob:).
    for (const img of logos) {
      img.src = reader.result;
      img.hidden = false;
    }
  });
  reader.readAsDataURL(file);
}

function showText(target, value, fallback) {
  document.getElementById(target).textContent = value.trim() || fallback;
}

if (preview && form) {
  const colour = form.elements.colour;
  const tenant = preview.dataset.tenant;
  colour.addEventListener("input", () => showColour(colour.value));
  form.elements.logo.addEventListener("change", (event) => showLogo(event.target.files[0]));
  form.elements.mail_header.addEventListener("input", (event) => showText("preview-mail-header", event.target.value, tenant));
  form.elements.mail_footer.addEventListener("input", (event) => showText("preview-mail-footer", event.target.value, tenant));
  showColour(colour.value);
  preview.dataset.ready = "true";
}
