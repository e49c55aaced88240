// Loading the CLI's files into the worker: a denoiser or classifier from a file or a URL, and the
// shipped models in web/models/.

/** The bytes at `url`; a failed response throws "url: HTTP status". */
export async function fetchBytes(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response.arrayBuffer();
}

/** The shipped models a side-by-side run can sample instead of the page's own. */
const PARTNERS = { flow: 'web/models/states-flow.safetensors', ddpm: 'web/models/states-denoiser.safetensors' };

/**
 * Makes `name` (a key of PARTNERS) the worker's side-by-side model unless it already is; '' needs
 * none. Resolves once the load message is posted (the worker handles it before the next one).
 */
export async function ensurePartner(worker, state, name) {
  if (!name || state.partner === name) return;
  const bytes = await fetchBytes(PARTNERS[name]);
  worker.postMessage({ type: 'load-partner', bytes }, [bytes]);
  state.partner = name;
}

/** Wires the file pickers, URL fields and "Load the pre-trained …" buttons. */
export function setupLoading({ $, worker, clearError, setBusy, setStatus, showError }) {
  /** `kind`: 'load' (a denoiser) or 'load-classifier'. */
  function loadBytes(kind, bytes, source) {
    clearError();
    setBusy(true);
    setStatus(`Loading ${source}…`);
    worker.postMessage({ type: kind, bytes, source }, [bytes]);
  }

  function wireLoading(kind, fileInput, urlInput, button) {
    $(fileInput).addEventListener('change', async () => {
      const file = $(fileInput).files[0];
      if (file) loadBytes(kind, await file.arrayBuffer(), file.name);
    });
    $(button).addEventListener('click', async () => {
      const url = $(urlInput).value.trim();
      if (!url) return showError(`${kind}: type a URL first`);
      try {
        const response = await fetch(url);
        if (!response.ok) throw new Error(`HTTP ${response.status}`);
        loadBytes(kind, await response.arrayBuffer(), url);
      } catch (err) {
        showError(`${kind}: ${url}: ${err.message}`);
      }
    });
  }
  wireLoading('load', 'weights-file', 'weights-url', 'load-url');

  $('load-pretrained').addEventListener('click', async () => {
    const models = [['load', 'web/models/states-denoiser.safetensors'], ['load-classifier', 'web/models/states-classifier.safetensors']];
    try {
      const files = await Promise.all(models.map(async ([kind, url]) => [kind, await fetchBytes(url), url]));
      for (const [kind, bytes, url] of files) loadBytes(kind, bytes, url);
    } catch (err) {
      showError(`pre-trained models: ${err.message}`);
    }
  });
  $('load-pretrained-vp').addEventListener('click', async () => {
    const url = 'web/models/states-vp.safetensors';
    try {
      loadBytes('load', await fetchBytes(url), url);
    } catch (err) {
      showError(`pre-trained VP model: ${err.message}`);
    }
  });
  wireLoading('load-classifier', 'classifier-file', 'classifier-url', 'load-classifier-url');
}
