/** The dashboard's icon: an up arrow over a bar. */
export const ICON_SVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" fill="#0969da"/><path d="M8 3l4 4H9.5v3h-3V7H4z" fill="#fff"/><rect x="4" y="11.5" width="8" height="1.5" fill="#fff"/></svg>`;
