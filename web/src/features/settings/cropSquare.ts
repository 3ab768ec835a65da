/** The avatar's side in pixels: avatars show at 36 px (72 on 2× screens); 256 leaves room and keeps uploads small. */
const SIDE = 256;

/**
 * Crops an image to its centred square and scales it to at most SIDE×SIDE, in the browser, so that the server
 * stores (and every client downloads) a small square avatar. PNG keeps transparency; photos go out as JPEG. An
 * animated GIF becomes its first frame.
 */
export async function cropSquare(file: File): Promise<File> {
  const bitmap = await createImageBitmap(file);
  try {
    const side = Math.min(bitmap.width, bitmap.height);
    const out = Math.min(side, SIDE);
    const canvas = document.createElement('canvas');
    canvas.width = out;
    canvas.height = out;
    const g = canvas.getContext('2d');
    if (!g) throw new Error('Cannot draw the image in this browser.');
    g.imageSmoothingQuality = 'high';
    g.drawImage(bitmap, (bitmap.width - side) / 2, (bitmap.height - side) / 2, side, side, 0, 0, out, out);
    const type = file.type === 'image/jpeg' ? 'image/jpeg' : 'image/png';
    const blob = await new Promise<Blob | null>((resolve) => canvas.toBlob(resolve, type, 0.9));
    if (!blob) throw new Error('Cannot encode the cropped image.');
    const name = file.name.replace(/\.[^.]*$/, '') + (type === 'image/jpeg' ? '.jpg' : '.png');
    return new File([blob], name, { type });
  } finally {
    bitmap.close();
  }
}
